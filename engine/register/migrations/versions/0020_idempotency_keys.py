"""Idempotency keys of case creation: a retried request (the client never saw the answer) finds
the case it created instead of creating it again. Append-only like every register table.

Revision ID: 0020
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0020"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLE = "idempotency_keys"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("actor", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("case_ref", sa.String(32), sa.ForeignKey("cases.ref"), nullable=False),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":  # cpe_append_only() comes with 0001
        op.execute(f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
                   "FOR EACH ROW EXECUTE FUNCTION cpe_append_only()")
        op.execute(f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION cpe_append_only()")
    elif dialect == "sqlite":
        for what in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {TABLE}_no_{what.lower()} BEFORE {what} ON {TABLE} BEGIN "
                       f"SELECT RAISE(ABORT, 'the register is append-only: {what} on {TABLE} refused'); END")


def downgrade() -> None:
    raise NotImplementedError("the register is append-only; it is never migrated down")
