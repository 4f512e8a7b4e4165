"""Agent memory (``pathwayd``): memories with immutable revisions, an event per change, scopes, supersession."""

from lakehouse.memory.model import KINDS, STATUSES, Memory, Scope
from lakehouse.memory.pathways import Pathways
from lakehouse.memory.playbooks import Playbooks
from lakehouse.memory.store import MemoryStore

__all__ = ["KINDS", "STATUSES", "Memory", "MemoryStore", "Pathways", "Playbooks", "Scope"]
