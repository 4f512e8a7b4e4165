"""``lakehouse up``: one process per daemon on loopback behind the gateway (``Supervisor``), what it reports
(``StackState``, read by ``lakehouse status``), and the systemd units that run the same layout (``systemd_units``)."""

from lakehouse.stack.supervisor import Supervisor, child_command
from lakehouse.stack.systemd import systemd_units
from lakehouse.stack_state import ChildState, StackState, read_state

__all__ = ["ChildState", "StackState", "Supervisor", "child_command", "read_state", "systemd_units"]
