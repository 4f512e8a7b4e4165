"""The server core every daemon shares: app factory, middleware, auth, bind guard, health and metrics."""

from lakehouse.server.app import create_app
from lakehouse.server.bind_guard import BindRefused, check_bind, is_loopback

__all__ = ["BindRefused", "check_bind", "create_app", "is_loopback"]
