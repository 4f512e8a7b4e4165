"""``ObserveStore``: spans and scores in the lake (``observe.spans``, ``observe.scores``), written one commit per
export request at most, and read back as traces, trace lists and sessions; and their maintenance (compaction,
repricing, retention, the trace index made anew).

Writes. Every path in (OTLP protobuf, OTLP JSON, the JSON API) hands over ``SpanRecord``s; each becomes its row
(masked, read by the conventions, priced) before anything is written, and a span whose row cannot be stored is
refused with its reason, the others kept. ``observe.commits`` commits them, many requests at once; exports can be
read in worker processes (``observe.workers``).

Reads. The trace index (``observe.index``) answers lists and sessions and gives a trace read its time range; the
trace's spans (and scores, for a trace that has any) are read in a read transaction reused while the lake is
unchanged, and made into a tree (``observe.answers``). Keys bound to a tenant write spans stamped with it and read
only those.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from lakehouse.config import ObserveSettings
from lakehouse.errors import NulCharacter, SessionNotFound, TraceNotFound
from lakehouse.ids import new_id
from lakehouse.observe import otlp
from lakehouse.observe.answers import score_of, span_node, span_tree, sum_totals, trace_summary
from lakehouse.observe.commits import Arrival, Job, SpanCommits
from lakehouse.observe.index import TraceIndex, rank
from lakehouse.observe.model import (
    Expired,
    Ingested,
    ScoreBatch,
    ScoresRecorded,
    Session,
    SpanBatch,
    Trace,
    TraceQuery,
    TraceSummary,
)
from lakehouse.observe.prices import PriceTable
from lakehouse.observe.redact import Redactor
from lakehouse.observe.rows import (
    ROW_GROUP,
    SCHEMA,
    SCORE_COLUMNS,
    SCORES,
    SPAN_COLUMNS,
    SPANS,
    RowMaker,
    SpanRecord,
    prepare,
    score_row,
    storable,
)
from lakehouse.observe.workers import ExportWorkers
from lakehouse.opsdb.engine import vacuum_sqlite
from lakehouse.paging import Page
from lakehouse.tables.lake import CATALOG, Lake, LatestSnapshot
from lakehouse.tables.read_pool import ReadPool
from lakehouse.tables.watchdog import Watchdog

_log = logging.getLogger(__name__)


class ObserveStore:
    def __init__(self, settings: ObserveSettings, lake: Callable[[], Lake], db: sa.Engine) -> None:
        self.settings = settings
        self._lake = lake
        self.db = db
        self.index = TraceIndex(db)
        self.redactor = Redactor(settings.redact.patterns, settings.redact.attributes)
        self.prices = PriceTable.from_settings(settings)
        self._ready = False
        self._ready_lock = threading.Lock()
        self.closing: list[Callable[[], None]] = []  # called by close(): writers that feed this store stop first
        self._commits = SpanCommits(settings, self._tables, self.index, self._count_file)
        self._workers: ExportWorkers | None = None
        self._reads: ReadPool | None = None  # trace reads: read transactions reused while the lake is unchanged
        self._latest: LatestSnapshot | None = None
        self._watchdog = Watchdog()
        self._unmerged = 0  # span files written since the last merge
        self._merging: threading.Thread | None = None

    def close(self) -> None:
        """Stop what feeds this store (self-observation's writer) before the stores below close."""
        for stop in self.closing:
            stop()
        self.closing.clear()
        merging = self._merging
        if merging is not None:
            merging.join()
        with self._ready_lock:
            if self._workers is not None:
                self._workers.close()
                self._workers = None
            if self._reads is not None:
                self._reads.close()
                self._reads = None
            if self._latest is not None:
                self._latest.close()
                self._latest = None

    def _read_pool(self, lake: Lake) -> ReadPool:
        with self._ready_lock:
            if self._reads is None:
                self._latest = LatestSnapshot(lake.settings)
                self._reads = ReadPool(
                    lake.new_cursor,
                    self._watchdog,
                    latest=self._latest,
                    max_age=lake.settings.lake.query_reuse_ms / 1000,
                    capacity=4,
                )
            return self._reads

    # -- tables ---------------------------------------------------------------------------------------------------

    def _tables(self) -> Lake:
        lake = self._lake()
        if self._ready:
            return lake
        with self._ready_lock:
            if not self._ready:
                spans = ", ".join(f"{n} {t}" for n, t in SPAN_COLUMNS)
                scores = ", ".join(f"{n} {t}" for n, t in SCORE_COLUMNS)
                with lake.cursor() as cur:
                    exists = cur.execute(
                        "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND schema_name = ?",
                        [CATALOG, SCHEMA],
                    ).fetchone()
                    if not exists or exists[0] < 2:
                        # spans live in Parquet files only, never inlined into the catalog database: retention
                        # deletes files, and a catalog database keeps deleted rows' bytes in its free pages; set
                        # before the tables exist, so that no inlined-data table is made for them (a scan reads
                        # one whenever it exists, at the cost of a catalog query). Row groups are small, so that
                        # a trace read, pruned to its time range by their statistics, reads few rows.
                        with lake.write(cur):
                            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {CATALOG}.{SCHEMA}")
                        with lake.write(cur):
                            cur.execute(
                                f"CALL {CATALOG}.set_option('data_inlining_row_limit', 0, schema => '{SCHEMA}')"
                            )
                            cur.execute(
                                f"CALL {CATALOG}.set_option('parquet_row_group_size', {ROW_GROUP}, "
                                f"schema => '{SCHEMA}')"
                            )
                        with lake.write(cur):
                            cur.execute(f"CREATE TABLE IF NOT EXISTS {SPANS} ({spans})")
                            cur.execute(f"CREATE TABLE IF NOT EXISTS {SCORES} ({scores})")
                self._ready = True
        return lake

    # -- writes ---------------------------------------------------------------------------------------------------

    def ingest(
        self,
        records: Iterable[SpanRecord],
        tenant: str | None = None,
        refused: Sequence[str] = (),
        arrival: Arrival | None = None,
    ) -> Ingested:
        """Record spans (one commit, shared with concurrent callers); ``refused`` are reasons the caller already
        has for spans it did not pass on (reported with any found here)."""
        with contextlib.ExitStack() as stack:
            if arrival is None:
                arrival = stack.enter_context(self._commits.arriving())
            maker = RowMaker(self.redactor, self.prices, tenant, datetime.now(UTC))
            prepared = prepare(records, maker, refused)
            rows, reasons = prepared.rows, prepared.refused
            # the Arrow table is made here, in the caller's thread, while another commit may be running
            snapshot = self._commits.commit(Job(spans=rows, table=prepared.table), arrival) if rows else None
        return Ingested(accepted=len(rows), rejected=len(reasons), errors=reasons[:100], snapshot_id=snapshot)

    def ingest_batch(self, batch: SpanBatch, tenant: str | None = None) -> Ingested:
        """The JSON API's spans (``POST /v1/observe/spans``)."""
        return self.ingest((SpanRecord.from_wire(span) for span in batch.spans), tenant)

    def ingest_otlp(self, body: bytes, media: str, tenant: str | None = None) -> tuple[bytes, Ingested]:
        """An OTLP export (protobuf or JSON): the response body in the request's encoding, and what was recorded."""
        with self._commits.arriving() as arrival:
            workers = self._decoders()
            if workers is None:
                decoded = otlp.decode(otlp.parse(body, media), self.settings.max_spans)
                result = self.ingest(decoded.spans, tenant, decoded.refused, arrival)
            else:  # decoded, masked, priced and made a table in a worker process
                prepared = workers.prepare(body, media, tenant)
                rows, reasons = prepared.rows, prepared.refused
                snapshot = self._commits.commit(Job(spans=rows, table=prepared.table), arrival) if rows else None
                result = Ingested(accepted=len(rows), rejected=len(reasons), errors=reasons[:100], snapshot_id=snapshot)
        return otlp.response(media, result.rejected, result.errors), result

    def _decoders(self) -> ExportWorkers | None:
        """The worker processes that decode exports (``observe.decode_workers``), started on first use."""
        if not self.settings.decode_workers:
            return None
        with self._ready_lock:
            if self._workers is None:
                self._workers = ExportWorkers(self.settings)
            return self._workers

    def record_scores(self, batch: ScoreBatch, tenant: str | None = None) -> ScoresRecorded:
        """Scores, one commit: a score sent again with its ``score_id`` replaces the one recorded."""
        now = datetime.now(UTC)
        rows = [score_row(s, s.score_id or new_id(), self.redactor, tenant, now) for s in batch.scores]
        for index, row in enumerate(rows):
            try:
                storable(row)
            except ValueError as exc:
                raise NulCharacter(f"score {index}: {exc}", field=f"scores[{index}]") from None
        # noted before the commit: a trace noted without scores costs a read of the scores table, a trace with
        # scores not noted would show none
        self.index.mark_scored((row["trace_id"], tenant) for row in rows)
        snapshot = self._commits.commit(Job(scores=rows))
        return ScoresRecorded(recorded=len(rows), score_ids=[r["score_id"] for r in rows], snapshot_id=snapshot)

    def _count_file(self) -> None:
        """One more small span file: past ``compact_after`` of them, merge them in the background (one merge at a
        time; commits wait for the writers' turn while it runs, and join the next group commit)."""
        self._unmerged += 1
        every = self.settings.compact_after
        if not every or self._unmerged < every:
            return
        with self._ready_lock:
            if self._merging is not None and self._merging.is_alive():
                return
            self._unmerged = 0
            self._merging = threading.Thread(target=self._merge_quietly, name="lakehouse-observe-merge", daemon=True)
            self._merging.start()

    def _merge_quietly(self) -> None:
        try:
            self.compact()
        except Exception:  # the next merge tries again; reads are only slower meanwhile
            _log.warning("could not merge the files of observe.spans", exc_info=True)

    def compact(self) -> int:
        """Merge the small files of the observe tables (adjacent files, so each keeps its time order and a trace
        read is still pruned by it); the files they replace stay for time travel until their snapshots expire.
        Returns how many files were merged."""
        lake = self._tables()
        merged = 0
        with lake.cursor() as cur:
            for table in ("spans", "scores"):
                with lake.write(cur):
                    rows = cur.execute(
                        f"CALL ducklake_merge_adjacent_files('{CATALOG}', '{table}', schema => '{SCHEMA}', "
                        "max_file_size => ?)",
                        [self.settings.compact_file_size],
                    ).fetchall()
                merged += sum(int(row[2]) for row in rows)
        return merged

    # -- reads ----------------------------------------------------------------------------------------------------

    def trace(self, trace_id: str, tenant: str | None = None) -> Trace:
        """The trace as a tree of spans (children by start time), with totals rolled up, and its scores. The index
        gives its time range, so the lake reads only the files of that range; a trace the index lacks (a process
        stopped between a commit and its index update) is read from every file and indexed again."""
        where, params = _tenant_filter(tenant)
        indexed = self.index.get(trace_id, tenant)
        if indexed is not None:
            where += " AND start_time BETWEEN ? AND ?"
            params += [indexed["start_time"], indexed["end_time"]]
        lake = self._tables()
        with self._read_pool(lake).lease() as lease:
            lease.begin()  # a reused transaction when the lake has not moved since it opened
            cur = lease.cursor
            spans = _dicts(
                cur.execute(
                    f"SELECT * FROM {SPANS} WHERE trace_id = ?{where} ORDER BY start_time, span_id",  # noqa: S608
                    [trace_id, *params],
                )
            )
            scores = []
            if indexed is None or self.index.has_scores(trace_id, tenant):  # most traces have none
                tenant_only, tenant_params = _tenant_filter(tenant)
                scores = _dicts(
                    cur.execute(
                        f"SELECT * FROM {SCORES} WHERE trace_id = ?{tenant_only} ORDER BY created_at, score_id",  # noqa: S608
                        [trace_id, *tenant_params],
                    )
                )
            lease.reusable = True
        if not spans:
            raise TraceNotFound(f"no trace {trace_id}", field="trace_id")
        if indexed is None:
            self._reindex([trace_id])
        roots = span_tree([span_node(row) for row in spans])
        summary = trace_summary(trace_id, spans)
        return Trace.model_construct(**dict(summary), spans=roots, scores=[score_of(row) for row in scores])

    def traces(self, query: TraceQuery, tenant: str | None = None) -> Page[TraceSummary]:
        """Trace summaries, newest first, filtered and paged (from the index)."""
        self._tables()
        items, cursor = self.index.page(query, tenant)
        return Page[TraceSummary](items=items, next=cursor)

    def session(self, session_id: str, tenant: str | None = None) -> Session:
        """A session's traces in the order they started, and their totals (from the index)."""
        self._tables()
        traces = self.index.session(session_id, tenant)
        if not traces:
            raise SessionNotFound(f"no session {session_id}", field="session_id")
        return Session(
            session_id=session_id,
            traces=traces,
            totals=sum_totals(t.totals for t in traces),
            start_time=min(t.start_time for t in traces),
            end_time=max(t.end_time for t in traces),
        )

    def reindex(self) -> int:
        """Make the trace index anew from the lake's spans; returns how many traces it holds."""
        return self._reindex(None)

    def _reindex(self, trace_ids: Sequence[str] | None) -> int:
        lake = self._tables()
        where = "" if trace_ids is None else " WHERE trace_id IN (SELECT unnest(?::VARCHAR[]))"
        with lake.cursor() as cur:
            rows = _dicts(
                cur.execute(
                    _INDEX_AGGREGATE + where + " GROUP BY trace_id, tenant",
                    [] if trace_ids is None else [list(trace_ids)],
                )
            )
        for row in rows:
            root = row.pop("root_start")
            row["name_rank"] = rank(root is not None, root if root is not None else row["start_time"])
            row["models"] = json.dumps(sorted(row["models"] or []))
        with lake.cursor() as cur:
            scored = cur.execute(
                f"SELECT DISTINCT trace_id, tenant FROM {SCORES}{where}",  # noqa: S608
                [] if trace_ids is None else [list(trace_ids)],
            ).fetchall()
        self.index.replace(rows, everything=trace_ids is None)
        self.index.mark_scored(((str(t), tenant) for t, tenant in scored), everything=trace_ids is None)
        return len(rows)

    # -- maintenance ----------------------------------------------------------------------------------------------

    def reprice(self) -> int:
        """Apply the price table again to spans priced by it (and to spans with tokens and no cost): one commit.
        Spans that reported their own cost keep it. Returns how many spans were priced."""
        lake = self._tables()
        with lake.cursor() as cur:
            models = [
                str(r[0])
                for r in cur.execute(
                    f"SELECT DISTINCT model FROM {SPANS} WHERE model IS NOT NULL "  # noqa: S608
                    "AND coalesce(cost_source, 'price_table') = 'price_table' "
                    "AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL)"
                ).fetchall()
            ]
            changed = 0
            with lake.write(cur):
                for model in models:
                    price = self.prices.price(model)
                    if price is None:
                        cur.execute(
                            f"UPDATE {SPANS} SET cost = NULL, cost_source = NULL "  # noqa: S608
                            "WHERE model = ? AND cost_source = 'price_table'",
                            [model],
                        )
                        continue
                    found = cur.execute(
                        f"UPDATE {SPANS} SET cost = coalesce(input_tokens, 0) * ? + coalesce(output_tokens, 0) * ?, "  # noqa: S608
                        "cost_source = 'price_table' WHERE model = ? AND coalesce(cost_source, 'price_table') = "
                        "'price_table' AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL)",
                        [price.input, price.output, model],
                    ).fetchone()
                    changed += int(found[0]) if found else 0
        self.reindex()  # the traces' totals follow their spans' costs
        return changed

    def expire(self, older_than: timedelta) -> Expired:
        """Remove every trace whose last span ended more than ``older_than`` ago, and its scores, so that nothing of
        them is left anywhere: in one commit each table is made anew from the rows it keeps (so no statistic of the
        catalog still names a removed value), then every snapshot from before that commit is expired (time travel,
        for every table of the lake, starts at it), the files no snapshot needs are deleted and, on a SQLite catalog,
        the catalog file is vacuumed (its free pages would keep removed bytes). A maintenance task: it rewrites the
        observe tables whole."""
        cutoff = datetime.now(UTC) - older_than
        lake = self._tables()
        with lake.cursor() as cur:
            with lake.write(cur):
                cur.execute(
                    "CREATE TEMP TABLE lh_expired AS SELECT trace_id FROM "  # noqa: S608
                    f"{SPANS} GROUP BY trace_id HAVING max(end_time) < ?",
                    [cutoff],
                )
                expired_ids = [str(r[0]) for r in cur.execute("SELECT trace_id FROM lh_expired").fetchall()]
                counts = {}
                for table in (SPANS, SCORES):
                    found = cur.execute(
                        f"SELECT count(*) FROM {table} WHERE trace_id IN (SELECT trace_id FROM lh_expired)"  # noqa: S608
                    ).fetchone()
                    counts[table] = int(found[0]) if found else 0
                    if counts[table]:
                        name = table.rsplit(".", 1)[1]
                        cur.execute(
                            f"CREATE TABLE {table}_kept AS SELECT * FROM {table} "  # noqa: S608
                            "WHERE trace_id NOT IN (SELECT trace_id FROM lh_expired)"
                        )
                        cur.execute(f"DROP TABLE {table}")
                        cur.execute(f"ALTER TABLE {table}_kept RENAME TO {name}")
                cur.execute("DROP TABLE lh_expired")
            self.index.remove(expired_ids)
            if not counts[SPANS] and not counts[SCORES]:
                return Expired(spans=0, scores=0, snapshots_expired=0, files_deleted=0)
            newest = cur.execute(f"SELECT id FROM {CATALOG}.current_snapshot()").fetchone()  # noqa: S608
            assert newest is not None
            older = [
                int(r[0])
                for r in cur.execute(
                    f"SELECT snapshot_id FROM {CATALOG}.snapshots() WHERE snapshot_id < ?",  # noqa: S608
                    [int(newest[0])],
                ).fetchall()
            ]
            if older:
                with lake.write(cur):
                    cur.execute(f"CALL ducklake_expire_snapshots('{CATALOG}', versions => ?)", [older])
            with lake.write(cur):
                deleted = cur.execute(
                    f"SELECT count(*) FROM ducklake_cleanup_old_files('{CATALOG}', cleanup_all => true)"  # noqa: S608 (constant names; values are parameters)
                ).fetchone()
                lake.vacuum_catalog()
        vacuum_sqlite(self.db)  # the index's rows of removed traces named them
        return Expired(
            spans=counts[SPANS],
            scores=counts[SCORES],
            snapshots_expired=len(older),
            files_deleted=int(deleted[0]) if deleted else 0,
        )


# -- rows to answers ------------------------------------------------------------------------------------------------

_INDEX_AGGREGATE = (
    "SELECT trace_id, coalesce(tenant, '') AS tenant_key, min(start_time) AS start_time, max(end_time) AS end_time, "
    "count(*) AS spans, coalesce(sum(input_tokens), 0) AS input_tokens, "
    "coalesce(sum(output_tokens), 0) AS output_tokens, coalesce(sum(cost), 0) AS cost, "
    "count(*) FILTER (WHERE status = 'error') AS errors, count(*) FILTER (WHERE status = 'ok') AS oks, "
    "arg_min(name, (parent_span_id IS NOT NULL, start_time)) AS name, "
    "min(start_time) FILTER (WHERE parent_span_id IS NULL) AS root_start, "
    "min(session_id) AS session_id, min(user_id) AS user_id, min(agent_name) AS agent_name, "
    "list(DISTINCT model) FILTER (WHERE model IS NOT NULL) AS models "
    "FROM lake.observe.spans"
)


def _tenant_filter(tenant: str | None) -> tuple[str, list[Any]]:
    return ("", []) if tenant is None else (" AND tenant = ?", [tenant])


def _dicts(cursor: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
