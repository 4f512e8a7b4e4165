"""Read transactions kept open between queries, so a query on an unchanged lake skips loading its catalog.

DuckLake loads a snapshot's catalog (schemas, tables, file lists) the first time a transaction touches the lake:
about 4 ms on a SQLite catalog, more than everything else a point lookup costs besides the scan. When a query ends
cleanly its connection, read transaction still open, waits here; the next query runs in it when the lake has not
moved past that snapshot. ``LatestSnapshot`` tells that before every query that could reuse one (from a change token
the lake's writers move, then the catalog database when it moved), so a query issued after a write was acknowledged
still reads the write: reuse never trades away read-your-writes.

Reuse has limits, each for a reason:

- SQL that reads the clock (``now()``, ``current_date``, ...) runs in a fresh transaction: DuckDB evaluates those
  functions at the start of the transaction, not of the statement.
- A transaction serves for at most ``max_age`` seconds after it opened: a view in the lake that reads the clock is
  then at most that old, and a read transaction held open on a SQLite catalog keeps its WAL from being reset.
- A connection comes back only after a clean finish. An error, a cancel, a time limit that fired, or a result that
  was not read to its end closes it instead.
- At most ``capacity`` wait. The watchdog closes those that age out; stale ones are closed off the query's path.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import duckdb

from lakehouse.tables.lake import CATALOG
from lakehouse.tables.watchdog import Watchdog

# One call: BEGIN first (the transaction loads the lake's snapshot once, for USE and the query), USE per connection
# (tables resolve by name in the lake), then the snapshot the transaction reads.
_OPEN_READ = f"BEGIN; USE {CATALOG}; SELECT id FROM {CATALOG}.current_snapshot()"  # noqa: S608 (constant)

# Functions DuckDB evaluates once per transaction: a query naming one never runs in a reused transaction.
CLOCK_FUNCTIONS = frozenset(
    {
        "now",
        "today",
        "current_date",
        "current_time",
        "current_timestamp",
        "current_localtime",
        "current_localtimestamp",
        "localtime",
        "localtimestamp",
        "get_current_time",
        "get_current_timestamp",
        "transaction_timestamp",
        "current_transaction_id",
        "txid_current",
    }
)


@dataclass(eq=False)
class Lease:
    """A connection lent to one query. ``begin()`` opens its read transaction unless it is a reused one; the query
    sets ``reusable`` once it has read its whole result, and the pool may then lend it again."""

    cursor: duckdb.DuckDBPyConnection
    snapshot_id: int | None = None  # None until the read transaction is open
    opened: float = 0.0  # time.monotonic() when it opened
    reusable: bool = False

    def begin(self) -> int:
        """Open the read transaction (a reused lease has one already); the snapshot it reads."""
        if self.snapshot_id is None:
            row = self.cursor.execute(_OPEN_READ).fetchone()
            self.snapshot_id = int(row[0]) if row else 0
            self.opened = time.monotonic()
        return self.snapshot_id

    def close(self) -> None:
        # ROLLBACK before closing: closing a connection whose transaction holds a PostgreSQL catalog session that has
        # died (a restart, a terminated backend) makes DuckDB's postgres extension throw from a destructor, which
        # aborts the process; the same failure from an explicit ROLLBACK is an ordinary error.
        with contextlib.suppress(Exception):
            self.cursor.execute("ROLLBACK")
        with contextlib.suppress(Exception):
            self.cursor.close()


class ReadPool:
    """The idle read transactions of one DuckDB instance.

    ``latest`` gives the lake's newest snapshot id (None: cannot tell, so nothing is reused); without it (an engine
    pinned to one snapshot) every idle transaction is current."""

    def __init__(
        self,
        new_cursor: Callable[[], duckdb.DuckDBPyConnection],
        watchdog: Watchdog,
        *,
        latest: Callable[[], int | None] | None,
        max_age: float,
        capacity: int = 8,
    ) -> None:
        self._new_cursor = new_cursor
        self._watchdog = watchdog
        self._latest = latest
        self.max_age = max_age
        self.capacity = capacity
        self._idle: list[Lease] = []
        self._lock = threading.Lock()
        self._sweep_due = False
        self._closed = False

    @contextlib.contextmanager
    def lease(self, *, fresh: bool = False) -> Iterator[Lease]:
        """A connection for one query: an idle one whose transaction still reads the newest snapshot, or (``fresh``,
        or none fits) a new one whose transaction the query opens with ``Lease.begin``."""
        taken = None if fresh or self.max_age <= 0 else self._take()
        lease = taken or Lease(self._new_cursor())
        try:
            yield lease
        finally:
            self._give_back(lease)

    def idle(self) -> int:
        with self._lock:
            return len(self._idle)

    def _take(self) -> Lease | None:
        with self._lock:
            if not self._idle:
                return None  # nothing to reuse: no need to ask the catalog
        latest = None
        if self._latest is not None:
            latest = self._latest()
            if latest is None:
                return None
        now = time.monotonic()
        found: Lease | None = None
        stale: list[Lease] = []
        with self._lock:
            keep: list[Lease] = []
            for lease in reversed(self._idle):  # the newest first
                assert lease.snapshot_id is not None
                if now - lease.opened >= self.max_age or (latest is not None and lease.snapshot_id < latest):
                    stale.append(lease)
                elif found is None:
                    found = lease
                else:
                    keep.append(lease)
            keep.reverse()
            self._idle = keep
        if stale:
            self._watchdog.watch(0, lambda: _close_all(stale))  # not on this query's path
        return found

    def _give_back(self, lease: Lease) -> None:
        if lease.reusable and lease.snapshot_id is not None:
            lease.reusable = False
            with self._lock:
                fits = (
                    not self._closed
                    and len(self._idle) < self.capacity
                    and time.monotonic() - lease.opened < self.max_age
                )
                if fits:
                    self._idle.append(lease)
                    if not self._sweep_due:
                        self._sweep_due = True
                        self._watchdog.watch(self.max_age, self._sweep)
                    return
        lease.close()

    def _sweep(self) -> None:
        """Close the idle transactions past ``max_age``; come back when the next one will be."""
        now = time.monotonic()
        with self._lock:
            old = [lease for lease in self._idle if now - lease.opened >= self.max_age]
            self._idle = [lease for lease in self._idle if now - lease.opened < self.max_age]
            if self._idle and not self._closed:
                due = min(lease.opened for lease in self._idle) + self.max_age - now
                self._watchdog.watch(max(due, 0.001), self._sweep)
            else:
                self._sweep_due = False
        _close_all(old)

    def close(self) -> None:
        """Close every idle transaction; leases still out are closed when they come back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        _close_all(idle)


def _close_all(leases: list[Lease]) -> None:
    for lease in leases:
        lease.close()
