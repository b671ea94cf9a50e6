"""Build the wheel and prove it works without the checkout (see scripts/check-wheel)."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The files README commands name as the user's own input (patient files, a proposed policy edit):
# copied beside the commands, as a user would have them. The engine's own data comes from the wheel.
INPUTS = ["examples", "docs/wording-changes", "policies/assisted-conception/policy.yaml"]


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)


def readme_commands() -> list[str]:
    """Every `.venv/bin/cpe …` line of the README (continuations joined, comments dropped)."""
    text = ROOT.joinpath("README.md").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        m = re.search(r"(?:^|&& )\.venv/bin/cpe (.*)$", line.strip())
        if m:
            out.append(re.sub(r"\s+#\s.*$", "", m.group(1)).strip())
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_check(cpe: Path, env: dict[str, str], cwd: Path) -> str | None:
    port = free_port()
    proc = subprocess.Popen([str(cpe), "serve", "--port", str(port)], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    return None if r.status == 200 else f"/health answered {r.status}"
            except OSError:
                time.sleep(0.5)
        return "the server never answered /health"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="cpe-wheel-"))
    failures: list[str] = []
    try:
        dist = work / "dist"
        r = run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)])
        if r.returncode:
            print(r.stdout, r.stderr)
            return 1
        wheel = next(dist.glob("cpe-*.whl"))
        print(f"built {wheel.name}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CPE_") and k != "PYTHONPATH"}
        env.update(PIPX_HOME=str(work / "pipx"), PIPX_BIN_DIR=str(work / "bin"), NO_COLOR="1",
                   CPE_CACHE_DIR=str(work / "cache"), CPE_DATABASE_URL=f"sqlite:///{work / 'register.db'}")
        r = run([sys.executable, "-m", "pipx", "install", "--python", sys.executable, f"{wheel}[all]"], env=env)
        if r.returncode:
            print(r.stdout, r.stderr)
            return 1
        cpe = work / "bin" / "cpe"
        cwd = work / "user"
        cwd.mkdir()
        for rel in INPUTS:
            src, dst = ROOT / rel, cwd / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(src, dst) if src.is_dir() else shutil.copy(src, dst)
        for args in readme_commands():
            if args.split()[0] == "serve":
                problem = serve_check(cpe, env, cwd)
                print(f"{'ok  ' if not problem else 'FAIL'} cpe {args}")
                if problem:
                    failures.append(f"cpe {args}: {problem}")
                continue
            argv, given = shlex.split(args), None
            if argv[:2] == ["user", "add"]:   # asks for a password on a terminal: answer it the scripted way
                argv, given = [*argv, "--password-stdin"], "a long wheel-check password\n"
            r = run([str(cpe), *argv], cwd=cwd, env=env, input=given)
            print(f"{'ok  ' if r.returncode == 0 else 'FAIL'} cpe {args}")
            if r.returncode:
                failures.append(f"cpe {args}: exit {r.returncode}: {r.stderr.strip()[-500:]}")
        # the core alone: look-up and decisions work; a heavy command names its extra
        core = work / "core"
        run([sys.executable, "-m", "venv", str(core)])
        r = run([str(core / "bin" / "pip"), "install", "-q", str(wheel)])
        if r.returncode:
            failures.append(f"core install failed: {r.stderr[-500:]}")
        else:
            for args, code, needle in [
                (["rag", "agomelatine", "--format", "json"], 0, '"matches"'),
                (["evaluate", "assisted-conception", "--patient", "examples/patient.yaml", "--on", "2019-06-01"],
                 0, "Assisted conception"),
                (["report", "policy", "breast-implant-replacement", "--version", "2018-07-01", "--format", "md"],
                 0, "Breast implant replacement"),
                (["cohort", "generate", "--n", "10", "-o", "c.csv"], 2, "pip install 'cpe[cohort]'"),
                (["serve"], 2, "pip install 'cpe[service]'"),
            ]:
                r = run([str(core / "bin" / "cpe"), *args], cwd=cwd, env=env)
                ok = r.returncode == code and needle in (r.stdout + r.stderr)
                print(f"{'ok  ' if ok else 'FAIL'} core-only: cpe {' '.join(args)} (exit {r.returncode})")
                if not ok:
                    failures.append(f"core-only cpe {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()[-300:]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("FAIL", f, file=sys.stderr)
    print(f"wheel check: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
