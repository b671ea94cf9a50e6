"""The `cpe` command. Each command group lives in its own module and registers on `app`.

Exit status (the contract): 0 the command did its job, whatever the outcome; 2 bad input,
with one line on stderr naming the problem; 1 a fault of the engine itself.
"""
from __future__ import annotations

import os
import sys

# Command modules register themselves on `app` when imported.
from engine.cli import (
    analysis_cmds,  # noqa: E402,F401
    cohort_cmds,  # noqa: E402,F401
    formulary_cmds,  # noqa: E402,F401
    policy_cmds,  # noqa: E402,F401
    register_cmds,  # noqa: E402,F401
    report_cmds,  # noqa: E402,F401
    serve_cmds,  # noqa: E402,F401
    user_cmds,  # noqa: E402,F401
)
from engine.cli.common import app


def _stdout_is_a_pipe() -> bool:
    import stat

    try:
        return stat.S_ISFIFO(os.fstat(sys.stdout.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):  # no real stdout (captured, closed)
        return False


def _wants_json(args: list[str]) -> bool:
    """Only the report commands: elsewhere bad input leaves stdout empty (never a decision)."""
    if not {"lint", "test"} & set(args[:3]):
        return False
    return any(a in ("--format=json", "-fjson") or (a in ("--format", "-f") and args[i + 1:i + 2] == ["json"])
               for i, a in enumerate(args))


def _debug() -> bool:
    from engine.settings import setting

    try:
        return bool(setting("debug"))
    except Exception:  # a CPE_DEBUG that is not a yes/no: the user asked for something, show it
        return True


def main() -> None:
    """Run `cpe`: usage errors and bad input exit 2 with one line; engine faults exit 1."""
    import signal

    from engine.errors import InputError

    if _stdout_is_a_pipe() and hasattr(signal, "SIGPIPE") and sys.argv[1:2] != ["serve"]:
        # `cpe … | head`: end quietly when the reader stops, as cat does. Only for a command whose
        # output goes into a pipe, never for the server: there a client that hangs up mid-response
        # would kill the whole process.
        try:
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        except ValueError:  # not the main thread (main() called in-process): leave it
            pass
    try:
        app()  # standalone: typer reports usage errors itself, with exit status 2
    except InputError as exc:
        if _wants_json(sys.argv[1:]):  # `cpe lint/test --format json`: the error as JSON too
            from engine.cli.common import print_json

            print_json(exc.to_json())
        print(f"cpe: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the engine's own fault, unless an optional part is not installed
        from engine.extras import missing_extra

        message = missing_extra(exc) if isinstance(exc, ImportError) else None
        if message:
            print(f"cpe: {message}", file=sys.stderr)
            sys.exit(2)
        if _debug():
            raise
        print(f"cpe: internal error: {type(exc).__name__}: {exc} (set CPE_DEBUG=1 for a traceback)",
              file=sys.stderr)
        sys.exit(1)
