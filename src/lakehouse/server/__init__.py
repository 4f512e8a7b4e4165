"""The server toolkit every daemon shares: middleware, auth, bind guard, problems, idempotency, health and metrics.

The app itself is put together above this package (``lakehouse.app.create_app``), from it and the ``services``.
"""

from lakehouse.server.bind_guard import BindRefused, check_bind, is_loopback

__all__ = ["BindRefused", "check_bind", "is_loopback"]
