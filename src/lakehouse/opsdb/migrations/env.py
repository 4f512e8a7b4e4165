"""Alembic environment: runs on the connection handed in by ``lakehouse.opsdb.upgrade``."""

from alembic import context

from lakehouse.opsdb.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
