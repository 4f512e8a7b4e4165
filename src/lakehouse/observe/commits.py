"""Span commits: group commit of what exports and score batches bring, one lake commit for many requests.

Each request makes its rows and their Arrow table in its own thread (or a worker process does), then queues its
job; the first caller that finds no commit running leads: it waits, up to ``observe.commit_wait_ms``, for the
requests still being read to queue too (never when none is), takes every waiting job and writes them in one lake
commit. Requests that arrive meanwhile share the next commit, which may start as soon as the lake commit is done:
the leader then folds its rows into the trace index and wakes its callers. Each caller returns after the commit that
holds its rows, so an acknowledged export is durable and visible.

A span already recorded (same trace and span id) is not recorded again. Only spans of traces already known can be:
known to the index, or committed and not yet indexed (``unindexed``); those are looked up among the spans of those
traces' time range (which lets the lake skip every other file), so a retried export duplicates nothing.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lakehouse.config import ObserveSettings
from lakehouse.observe.index import TraceIndex
from lakehouse.observe.rows import SCORE_COLUMNS, SCORES, SPAN_COLUMNS, SPANS, arrow_table
from lakehouse.tables.lake import CATALOG, Lake

_log = logging.getLogger(__name__)


def _select_list(columns: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"{name}::JSON AS {name}" if kind == "JSON" else name for name, kind in columns)


@dataclass
class Job:
    spans: list[dict[str, Any]] = field(default_factory=list)
    table: Any = None  # the spans as an Arrow table (made by the caller)
    taken: bool = False  # a commit holds it
    scores: list[dict[str, Any]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    snapshot: int | None = None
    error: BaseException | None = None


@dataclass
class Arrival:
    queued: bool = False  # its job is among the pending ones (no longer arriving)


def _ranges(rows: list[dict[str, Any]]) -> dict[str, tuple[datetime, datetime]]:
    """Each trace's time range among ``rows``."""
    out: dict[str, tuple[datetime, datetime]] = {}
    for row in rows:
        old = out.get(row["trace_id"])
        start, end = row["start_time"], row["end_time"]
        out[row["trace_id"]] = (start, end) if old is None else (min(old[0], start), max(old[1], end))
    return out


def _table_of(jobs: list[Job], fresh: list[dict[str, Any]]) -> Any:
    """The Arrow table of the rows to insert: the jobs' own tables, whole when every row of them is fresh (the
    common case: new spans, sent once), else each filtered to its fresh rows (a span in two jobs: the first)."""
    import pyarrow as pa

    if len(fresh) == sum(len(job.spans) for job in jobs):
        tables = [job.table for job in jobs if job.spans]
    else:
        wanted = {(row["trace_id"], row["span_id"]) for row in fresh}
        tables = []
        for job in jobs:
            if not job.spans:
                continue
            mask = []
            for row in job.spans:
                key = (row["trace_id"], row["span_id"])
                mask.append(key in wanted)
                wanted.discard(key)
            tables.append(job.table.filter(pa.array(mask, pa.bool_())))
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


class SpanCommits:
    """The group commit of one store. ``written`` is called after each commit that wrote a span file."""

    def __init__(
        self, settings: ObserveSettings, tables: Callable[[], Lake], index: TraceIndex, written: Callable[[], None]
    ) -> None:
        self.settings = settings
        self._tables = tables
        self.index = index
        self._written = written
        self._pending: list[Job] = []
        self._committing = False
        self._incoming = 0  # requests being read on their way to a commit
        self.unindexed: dict[int, dict[str, tuple[datetime, datetime]]] = {}  # snapshot -> its traces' ranges
        self._turn = threading.Condition()

    @contextlib.contextmanager
    def arriving(self) -> Iterator[Arrival]:
        """A request on its way to a commit (being read): a commit about to start waits for it, up to
        ``commit_wait_ms``, so that concurrent exports share commits."""
        arrival = Arrival()
        with self._turn:
            self._incoming += 1
        try:
            yield arrival
        finally:
            if not arrival.queued:
                with self._turn:
                    self._incoming -= 1
                    self._turn.notify_all()

    def commit(self, job: Job, arrival: Arrival | None = None) -> int:
        """Group commit: the first caller to find no commit running commits every job waiting, itself included.
        Before it starts, it waits (up to ``commit_wait_ms``) for the requests still being read to join. Once the
        lake commit is done the next group may start while this one updates the trace index."""
        with self._turn:
            self._pending.append(job)
            if arrival is not None:
                arrival.queued = True
                self._incoming -= 1
                self._turn.notify_all()
            while not job.taken:
                if self._committing:
                    self._turn.wait()
                else:
                    self._lead()
        job.done.wait()
        if job.error is not None:
            raise job.error
        assert job.snapshot is not None
        return job.snapshot

    def _lead(self) -> None:
        """Commit every pending job (called, and returning, with ``_turn`` held)."""
        self._committing = True
        try:
            deadline = time.monotonic() + self.settings.commit_wait_ms / 1000
            while self._incoming > 0 and (left := deadline - time.monotonic()) > 0:
                self._turn.wait(left)
            jobs, self._pending = self._pending, []
            for job in jobs:
                job.taken = True
            self._turn.release()
            try:
                written = self._write(jobs)
            finally:
                self._turn.acquire()
        finally:
            self._committing = False
            self._turn.notify_all()
        self._turn.release()
        try:
            self._indexed(jobs, written)
        finally:
            self._turn.acquire()

    def _write(self, jobs: list[Job]) -> tuple[int, list[dict[str, Any]]] | None:
        """The lake commit of the jobs' spans and scores: the rows written, kept as unindexed until
        ``_indexed``; None (each job holding the error) when it failed."""
        try:
            lake = self._tables()
            spans: dict[tuple[str, str], dict[str, Any]] = {}
            for job in jobs:
                for row in job.spans:
                    spans.setdefault((row["trace_id"], row["span_id"]), row)
            scores = {row["score_id"]: row for job in jobs for row in job.scores}
            with lake.cursor() as cur:
                with lake.write(cur):
                    fresh = self._fresh(cur, spans) if spans else []
                    if fresh:
                        cur.register("lh_spans", _table_of(jobs, fresh))
                        cur.execute(f"INSERT INTO {SPANS} SELECT {_select_list(SPAN_COLUMNS)} FROM lh_spans")  # noqa: S608
                        cur.unregister("lh_spans")
                    if scores:
                        cur.register("lh_scores", arrow_table(list(scores.values()), SCORE_COLUMNS))
                        cur.execute(f"DELETE FROM {SCORES} WHERE score_id IN (SELECT score_id FROM lh_scores)")  # noqa: S608
                        cur.execute(f"INSERT INTO {SCORES} SELECT * FROM lh_scores")  # noqa: S608
                        cur.unregister("lh_scores")
                newest = cur.execute(f"SELECT id FROM {CATALOG}.current_snapshot()").fetchone()  # noqa: S608
            snapshot = int(newest[0]) if newest else 0
            for job in jobs:
                job.snapshot = snapshot
            with self._turn:  # the next commit's duplicate check sees these before the index does
                self.unindexed[snapshot] = _ranges(fresh)
            return snapshot, fresh
        except BaseException as exc:
            for job in jobs:
                job.error = exc
                job.done.set()
            return None

    def _indexed(self, jobs: list[Job], written: tuple[int, list[dict[str, Any]]] | None) -> None:
        """Fold a commit's rows into the trace index, then answer its callers. The spans are in the lake whatever
        happens here: an index that cannot be updated is logged (a read of such a trace, or ``reindex``, repairs
        it) and its traces stay known to this process's duplicate check."""
        if written is None:
            return
        snapshot, fresh = written
        try:
            self.index.add(fresh)
            with self._turn:
                self.unindexed.pop(snapshot, None)
            if fresh:
                self._written()
        except Exception:
            _log.warning("could not update the trace index after lake snapshot %d", snapshot, exc_info=True)
        finally:
            for job in jobs:
                job.done.set()

    def _fresh(self, cur: Any, spans: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows not yet recorded. Only spans of traces the index knows can be: those are looked up among the
        spans of those traces' time range (which lets the lake skip every other file); a new trace's are all new."""
        ids = {trace_id for trace_id, _ in spans}
        known = self.index.known(ids)
        with self._turn:
            unindexed = list(self.unindexed.values())
        for ranges in unindexed:  # committed, not yet in the index
            for trace_id in ids & ranges.keys():
                low, high = ranges[trace_id]
                old = known.get(trace_id)
                known[trace_id] = (low, high) if old is None else (min(old[0], low), max(old[1], high))
        if not known:
            return list(spans.values())
        low = min(r[0] for r in known.values())
        high = max(r[1] for r in known.values())
        recorded = {
            (str(t), str(s))
            for t, s in cur.execute(
                f"SELECT trace_id, span_id FROM {SPANS} WHERE start_time BETWEEN ? AND ? "  # noqa: S608
                "AND trace_id IN (SELECT unnest(?::VARCHAR[]))",
                [low, high, sorted(known)],
            ).fetchall()
        }
        return [row for key, row in spans.items() if key not in recorded]
