"""Accounts for the casework pages (engine.register.users): who may sign in, with which role.
Passwords are stored only as argon2 hashes. Not append-only: an account can be disabled; every
change to an account is also written to the audit chain.

Revision ID: 0013
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0013"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(100), nullable=False, unique=True),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the register is never migrated down")
