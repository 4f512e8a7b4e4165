"""Embedding new memory content off the request path: ``Warmer`` takes the contents a write made and embeds them on
one background thread, in batches (one forward pass for many texts), into the embedding cache.

A write does not wait for it: the memory is searchable at once, by words immediately and by meaning as soon as its
embedding is in the cache, or at the next search, which embeds whatever is still missing itself. ``flush`` waits
until everything handed over is embedded: a FORGET flushes first, so that no embedding of the content it purges is
written back into the cache after the purge.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class Warmer:
    def __init__(self, embed: Callable[[list[str]], Any], batch: int = 32) -> None:
        self._embed = embed
        self._batch = batch
        self._pending: list[str] = []
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._changed = threading.Condition()

    def submit(self, text: str) -> None:
        """Embed ``text`` soon (a closed warmer ignores it: the next search embeds what it needs)."""
        with self._changed:
            if self._closed:
                return
            self._pending.append(text)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lakehouse-memory-warmer", daemon=True)
                self._thread.start()
            self._changed.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every text handed over so far is embedded (or the warmer is closed); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._closed or (not self._pending and not self._busy), timeout)

    def close(self) -> None:
        """Stop the thread after its current batch; texts not yet embedded are left to the searches."""
        with self._changed:
            self._closed = True
            self._pending.clear()
            thread = self._thread
            self._changed.notify_all()
        if thread is not None:
            thread.join(timeout=60)

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._closed or bool(self._pending))
                if self._closed:
                    self._busy = False
                    self._changed.notify_all()
                    return
                texts = list(dict.fromkeys(self._pending[: self._batch]))
                del self._pending[: self._batch]
                self._busy = True
            try:
                self._embed(texts)
            except Exception:  # a failed warm-up costs only time: the next search embeds what it needs
                log.exception("embedding %d new memory contents failed", len(texts))
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()
