"""What every command shares: the typer app, output formats, the suite, printing."""
from __future__ import annotations

import datetime as dt
import enum
import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

app = typer.Typer(name="cpe", no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False,
                  help="Commissioning policy engine: NHS commissioning policies and formularies as rules.\n\n"
                       "Exit status: 0 done (whatever the outcome), 2 bad input, 1 engine fault.")


def _version(value: bool) -> None:
    if value:
        from engine import __version__

        typer.echo(f"cpe {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="print the version and exit"),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="more log lines on stderr (-vv: debug)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="errors only on stderr"),
) -> None:
    """Options every command shares."""
    configure_logging(verbose, quiet)


def configure_logging(verbose: int = 0, quiet: bool = False) -> None:
    """Logging set up once, for the whole process: one handler on stderr, `$CPE_LOG_LEVEL` by default."""
    import logging

    from engine.settings import setting

    if quiet:
        level = logging.ERROR
    elif verbose:
        level = logging.DEBUG if verbose > 1 else logging.INFO
    else:
        level = getattr(logging, str(setting("log_level")).upper())
    logging.basicConfig(level=level, format="cpe: %(levelname)s %(name)s: %(message)s", force=True)
    logging.captureWarnings(True)  # a Python warning is logged once, through the same handler


class Format(enum.StrEnum):
    text = "text"
    json = "json"


FormatOpt = typer.Option(Format.text, "--format", "-f", help="text for people, json for programs")
PoliciesOpt = typer.Option(None, "--policies", envvar="CPE_POLICIES",
                           help="the policies folder (default: policies/ of this checkout)")


def suite(root: Optional[Path] = None, cached: bool = False):
    """The policy suite; `cached` restores a snapshot of the validated rules when no file changed
    (for commands that only read the rules: they then start without parsing or validating YAML)."""
    from engine.language.suite import Suite

    return Suite.cached(root) if cached else Suite(root)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=_default) + "\n")


def _default(o: Any) -> Any:
    if isinstance(o, (dt.date, dt.datetime)):
        return o.isoformat()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    raise TypeError(f"cannot serialise {type(o).__name__}")


def print_lines(lines: list[tuple[str, str]]) -> None:
    """(style, text) lines through rich, which honours NO_COLOR and plain pipes."""
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False, soft_wrap=True)
    for style, text in lines:
        console.print(Text(terminal_safe(text), style=style or ""))


def terminal_safe(text: str) -> str:
    """Text from data (IFR grounds, reasons, names) as inert characters: escape sequences and
    other control characters are shown escaped, never sent to the terminal (newlines and tabs stay)."""
    from engine.errors import printable

    return "\n".join("\t".join(printable(part) for part in line.split("\t")) for line in str(text).split("\n"))


def check_output(out: Optional[Path | str]) -> None:
    """Refuse an `-o` target that cannot be written (no such folder, a directory) before any work,
    as bad input (exit 2) rather than an error half-way through. None and '-' are stdout."""
    from engine.errors import InputError

    if out is None or str(out) == "-":
        return
    path = Path(out)
    if path.is_dir():
        raise InputError.of("unwritable-file", f"cannot write {out}: it is a directory", hint="give a file name")
    if not path.parent.is_dir():
        raise InputError.of("unwritable-file", f"cannot write {out}: there is no folder {path.parent}")


def parse_on(on: Optional[str]) -> Optional[dt.date]:
    from engine.language.versions import parse_date

    return parse_date(on) if on else None
