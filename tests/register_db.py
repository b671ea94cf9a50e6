"""The register tests' databases: every test that takes `db_url` runs on SQLite and on PostgreSQL.

PostgreSQL comes from CPE_TEST_POSTGRES_URL (default: role cpe, password cpe, database cpe_test
on 127.0.0.1:5432, see docs/register.md). If it cannot be reached the PostgreSQL tests FAIL:
the register must be shown to work on both, so a missing server is not a reason to pass.
"""
from __future__ import annotations

import os

import pytest

PG_DEFAULT = "postgresql+psycopg://cpe:cpe@127.0.0.1:5432/cpe_test"
BACKENDS = ["sqlite", "postgresql"]


def postgres_url() -> str:
    return os.environ.get("CPE_TEST_POSTGRES_URL", PG_DEFAULT)


def fresh_postgres() -> str:
    """An empty public schema in the test database (the register's tables, triggers, function go)."""
    from sqlalchemy import create_engine, text

    url = postgres_url()
    eng = create_engine(url)
    try:
        with eng.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"PostgreSQL for the register tests is unreachable at {url}: {type(exc).__name__}: "
                    f"{str(exc).splitlines()[0]} (start it: see docs/register.md, 'Testing')")
    finally:
        eng.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'register.sqlite3'}"
    return fresh_postgres()


@pytest.fixture
def register(db_url, suite):
    from engine.register.store import Register

    reg = Register(db_url, suite=suite)
    yield reg
    reg.close()


def raw(reg, *statements: str) -> None:
    """Run SQL as the database owner, past the register's code (tampering, in tests)."""
    from sqlalchemy import text

    with reg.engine.begin() as conn:
        for sql in statements:
            conn.execute(text(sql))


def without_triggers(reg, table: str, sql: str) -> None:
    """Edit behind the triggers' back: drop them (SQLite) or disable them as owner (PostgreSQL)."""
    if reg.engine.dialect.name == "sqlite":
        raw(reg, f"DROP TRIGGER {table}_no_update", f"DROP TRIGGER {table}_no_delete", sql)
    else:
        raw(reg, f"ALTER TABLE {table} DISABLE TRIGGER USER", sql, f"ALTER TABLE {table} ENABLE TRIGGER USER")
