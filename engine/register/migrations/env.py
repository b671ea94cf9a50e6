"""Alembic environment: always run on the connection `engine.register.db.migrate` hands over."""
from alembic import context

from engine.register.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through engine.register.db.migrate (it passes the connection)")
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
