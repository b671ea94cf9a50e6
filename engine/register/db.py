"""Where the register lives and how to open it: `CPE_DATABASE_URL`, else an SQLite file in the
user's data directory; the schema is brought to the newest migration on first use.

Writers are serialised (SQLite `BEGIN IMMEDIATE`, a PostgreSQL advisory lock) because each
audit row hashes the one before it: two writers must never read the same chain head.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

#: The newest migration; `migrate` skips Alembic entirely when the database is already there
#: (a test keeps this equal to the migrations folder's head).
HEAD = "0021"

#: Any constant works; it only has to be the same for every writer of one database.
CHAIN_LOCK_KEY = 70311979


def default_url() -> str:
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("cpe", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'register.sqlite3'}"


def database_url(url: str | None = None) -> str:
    from engine.settings import setting

    return url or setting("database_url") or default_url()


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable URL>"


def make_engine(url: str | None = None) -> Engine:
    """An engine whose transactions take the write lock up front (SQLite) and wait for it."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    url = database_url(url)
    try:
        if url.startswith("sqlite"):
            if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
                Path(url[len("sqlite:///"):]).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 60}, hide_parameters=True)

            @event.listens_for(engine, "connect")
            def _connect(dbapi_conn, _record):  # noqa: ANN001
                dbapi_conn.isolation_level = None  # let us issue BEGIN ourselves
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA busy_timeout=60000")
                cur.close()

            @event.listens_for(engine, "begin")
            def _begin(conn):  # noqa: ANN001
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            # hide_parameters: a database error names the statement, never the patient facts bound to it
            engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise InputError.of("bad-database-url", f"CPE_DATABASE_URL {safe_url(url)!r} is not usable: {exc}") from None
    return engine


def lock_chain(conn: Connection) -> None:
    """Serialise writers for the rest of this transaction (SQLite already holds the lock)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy import text

        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK_KEY})


def current_revision(engine: Engine) -> str | None:
    from sqlalchemy import inspect, text

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe when several processes start at once."""
    from sqlalchemy.exc import OperationalError

    try:
        if current_revision(engine) == HEAD:
            return  # the common case: no Alembic import, no lock
    except OperationalError as exc:
        raise _unavailable(engine, exc) from None
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    try:
        with engine.begin() as conn:
            lock_chain(conn)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise _unavailable(engine, exc) from None


def _unavailable(engine: Any, exc: Any) -> InputError:
    return InputError.of("database-unavailable", f"cannot open the register at {safe_url(str(engine.url))}: "
                         + str(exc.orig).strip().splitlines()[0])
