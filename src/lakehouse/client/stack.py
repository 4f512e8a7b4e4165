"""Client methods for /v1/stack (admin scope, a stack's gateway only)."""

from __future__ import annotations

from lakehouse.client._http import Transport
from lakehouse.stack_state import DaemonName, DaemonRestarted, RestartDaemon, StackState

ROUTES = {("GET", "/v1/stack"), ("POST", "/v1/stack/restart")}


class Stack:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def status(self) -> StackState:
        """Each process of the stack behind this gateway: pid, port, state, restarts."""
        return self._t.call("GET", "/v1/stack", StackState)

    def restart(self, service: DaemonName) -> DaemonRestarted:
        """Stop a daemon (after its requests drain) for the supervisor to start again."""
        return self._t.call("POST", "/v1/stack/restart", DaemonRestarted, body=RestartDaemon(service=service))
