"""The operational DB: API keys now; schemas, memories, collections and idempotency keys as they arrive.

SQLAlchemy 2 Core tables (``schema``) with Alembic migrations (``migrations/``); SQLite in the data dir by
default, PostgreSQL by URL.
"""

from lakehouse.opsdb.engine import create_engine, current_revision, head_revision, upgrade
from lakehouse.opsdb.schema import api_keys, idempotency_keys, metadata

__all__ = ["api_keys", "create_engine", "current_revision", "head_revision", "idempotency_keys", "metadata", "upgrade"]
