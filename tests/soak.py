"""How long the long loops run: short in ``make test`` (as long as it takes to catch their bug), long under
``make soak`` (``LH_SOAK=1``; docs/operations.md says what it runs). Not ``LAKEHOUSE_*``: that prefix is read as
settings by the servers the end-to-end tests start."""

from __future__ import annotations

import os

SOAK = os.environ.get("LH_SOAK") == "1"


def loops(normal: int, soak: int) -> int:
    """``normal`` iterations, or ``soak`` under ``make soak``."""
    return soak if SOAK else normal
