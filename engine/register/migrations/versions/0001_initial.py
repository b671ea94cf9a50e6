"""The register: cases, evaluations, panel decisions, workflow events, the audit chain, and the
triggers that make every table append-only on SQLite and PostgreSQL.

Revision ID: 0001
Revises:
"""
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ["cases", "evaluations", "panel_decisions", "case_events", "audit_log"]
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("ref", sa.String(32), primary_key=True),
        sa.Column("number", sa.Integer, nullable=False, unique=True),
        sa.Column("policy_id", sa.String(100), nullable=False, index=True),
        sa.Column("intervention", sa.String(200)),
        sa.Column("referral_date", sa.Date),
        sa.Column("patient", sa.JSON, nullable=False),
        sa.Column("patient_ref", sa.String(100)),
        sa.Column("requester", sa.String(200), nullable=False),
        sa.Column("grounds", sa.Text),
        sa.Column("created_at", TZ, nullable=False, index=True),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_ref", sa.String(32), sa.ForeignKey("cases.ref"), nullable=False, index=True),
        sa.Column("policy_id", sa.String(100), nullable=False),
        sa.Column("version", sa.String(40), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("engine_version", sa.String(40), nullable=False),
        sa.Column("on_date", sa.Date),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("route", sa.String(40), nullable=False),
        sa.Column("decision", sa.JSON, nullable=False),
        sa.Column("evaluated_at", TZ, nullable=False),
    )
    op.create_table(
        "panel_decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_ref", sa.String(32), sa.ForeignKey("cases.ref"), nullable=False, index=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=False),
        sa.Column("decided_at", TZ, nullable=False),
    )
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_ref", sa.String(32), sa.ForeignKey("cases.ref"), nullable=False, index=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("from_state", sa.String(20)),
        sa.Column("to_state", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.UniqueConstraint("case_ref", "seq"),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(60), nullable=False, index=True),
        sa.Column("case_ref", sa.String(32), index=True),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("""
            CREATE FUNCTION cpe_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION 'the register is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
            END $$""")
        for t in TABLES:
            op.execute(f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                       "FOR EACH ROW EXECUTE FUNCTION cpe_append_only()")
            op.execute(f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION cpe_append_only()")
    elif dialect == "sqlite":
        for t in TABLES:
            for what in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {t}_no_{what.lower()} BEFORE {what} ON {t} BEGIN "
                           f"SELECT RAISE(ABORT, 'the register is append-only: {what} on {t} refused'); END")


def downgrade() -> None:
    raise NotImplementedError("the register is append-only; it is never migrated down")
