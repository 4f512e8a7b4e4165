"""The bind guard: a server reachable from other machines must have auth on. There is no override."""

from __future__ import annotations

import ipaddress
import socket

from lakehouse.errors import ConfigError

FIX = (
    "turn auth on ([auth] enabled = true in lakehouse.toml, LAKEHOUSE_AUTH__ENABLED=true, or --auth) and "
    "create a key with `lakehouse keys create --name NAME --scopes read,write`, or bind 127.0.0.1"
)


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback address (127.0.0.0/8, ::1)."""
    host = host.strip().strip("[]")
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses)


class BindRefused(ConfigError):
    kind, title = "bind_refused", "Refusing to bind a non-loopback address with auth off"


def check_bind(host: str, auth_enabled: bool) -> None:
    """Raise :class:`BindRefused` when ``host`` is not loopback and auth is off."""
    if not auth_enabled and not is_loopback(host):
        raise BindRefused(f"refusing to listen on {host!r} with auth off: {FIX}", field="server.host")
