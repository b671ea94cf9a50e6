"""CDS Hooks feedback in the register database (it was kept in memory and lost on restart):
each accepted or overridden card, the override reason and comment. Append-only like every table.

Revision ID: 0021
Revises: 0020
"""
from alembic import op
import sqlalchemy as sa

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

TABLE = "cds_feedback"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("service", sa.String(100), nullable=False, index=True),
        sa.Column("card", sa.String(100), nullable=False, index=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("override_code", sa.String(100)),
        sa.Column("override_reason", sa.String(500)),
        sa.Column("user_comment", sa.Text),
        sa.Column("accepted_suggestions", sa.JSON, nullable=False),
        sa.Column("outcome_timestamp", sa.String(40), nullable=False),
        sa.Column("caller", sa.String(500)),
        sa.Column("shown", sa.JSON),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, index=True),
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
