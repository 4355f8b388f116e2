#!/usr/bin/env python3
"""How much memory does `make serve` take after light use, in how many
processes? A fresh embedded `envelope serve` (SQLite, local files, the
embedded broker) gets what a laptop index sees in its first minutes: an
organization, a token, one twine upload, a few pip-sized index requests,
and a few beat ticks. Then PSS (the process's share of every page it maps,
so pages shared after a fork are counted once over the tree) is summed from
/proc/PID/smaps_rollup for `serve` and every process below it.

    .venv/bin/python bench/serve_memory.py [--wrk SECONDS]

--wrk also runs wrk (-t2 -c32) on `/simple/` and the project page in the
same run, so memory and throughput of one process model are read together,
and PSS is read again after that load.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from index_scale import wrk  # noqa: E402
from tests.builders import make_wheel  # noqa: E402
from tests.services import EnvelopeServer, client_environ, descendants  # noqa: E402

PASSWORD = "bench-password-1"
SETTLE = 5  # seconds after the last request: beat ticks and the worker runs its tasks


def pss_kib(pid: int) -> int:
    """The process's proportional set size (0 if it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def label(pid: int) -> str:
    """A short name for a process: its command line without the interpreter's path."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").decode().split("\0")
    except (FileNotFoundError, ProcessLookupError):
        return "?"
    if argv and Path(argv[0]).name.startswith("python"):
        argv = argv[2:] if argv[1:2] == ["-m"] else argv[1:]
    argv[0] = Path(argv[0]).name
    text = " ".join(argv)
    return text if len(text) <= 70 else text[:67] + "..."


def light_use(server: EnvelopeServer, workdir: Path, ui: bool = False) -> tuple[str, str]:
    """An org, a read token, one upload, a few index requests (and with `ui`
    a download, a sign-in and two pages of the web UI); returns (token, project path)."""
    server.cli("org", "create", "bench")
    uploader = server.token("bench", "--scope", "upload")
    reader = server.token("bench", "--scope", "read")
    wheel = make_wheel(workdir / "dist", "benchlib", "1.0")
    subprocess.run(
        [str(Path(sys.executable).parent / "twine"), "upload", "--non-interactive", "--disable-progress-bar",
         "--repository-url", server.upload_url("bench"), "-u", "__token__", "-p", uploader, str(wheel)],
        env=client_environ(), check=True, capture_output=True,
    )
    for path in ("/bench/simple/", "/bench/simple/benchlib/") * 10:
        response = requests.get(server.url(path), auth=("__token__", reader), timeout=10)
        response.raise_for_status()
    if ui:
        browse(server, reader)
    requests.get(server.url("/healthz"), timeout=10).raise_for_status()
    return reader, "/bench/simple/benchlib/"


def browse(server: EnvelopeServer, reader: str) -> None:
    """A file download, a sign-in (argon2) and two pages of the web UI."""
    server.cli("user", "create", "bea", "--email", "bea@example.com", "--org", "bench:reader",
               "--password-stdin", input=PASSWORD + "\n")
    page = requests.get(server.url("/bench/simple/benchlib/"), auth=("__token__", reader), timeout=10).text
    href = re.search(r'href="([^"#]+)', page).group(1)
    requests.get(requests.compat.urljoin(server.url("/bench/simple/benchlib/"), href),
                 auth=("__token__", reader), timeout=10).raise_for_status()
    ui = requests.Session()
    csrf = re.search(r'name="csrf_token"[^>]*?value="([^"]+)"', ui.get(server.url("/login"), timeout=10).text)
    ui.post(server.url("/login"), data={"login": "bea", "password": PASSWORD, "csrf_token": csrf.group(1)},
            timeout=30).raise_for_status()
    for path in ("/bench/", "/bench/projects/benchlib/"):
        ui.get(server.url(path), timeout=30).raise_for_status()


def measure(server: EnvelopeServer) -> list[tuple[int, str, int]]:
    """(pid, label, PSS KiB) for `serve` and each process below it."""
    return [(pid, label(pid), pss_kib(pid)) for pid in (server.pid, *sorted(descendants(server.pid)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wrk", type=int, default=0, metavar="SECONDS", help="also run wrk for this long per page")
    parser.add_argument("--workers", type=int, default=None, help="envelope serve --workers (default: its own)")
    parser.add_argument("--ui", action="store_true", help="light use includes a download, a sign-in and web UI pages")
    parser.add_argument("--pythonpath", help="run another checkout's code (git archive REV | tar -x -C DIR) with this venv")
    args = parser.parse_args()
    serve_args = ("--workers", str(args.workers)) if args.workers else ()
    extra_env = {"PYTHONPATH": str(Path(args.pythonpath).resolve())} if args.pythonpath else {}
    with tempfile.TemporaryDirectory(prefix="envelope-memory-") as tmp:
        with EnvelopeServer(Path(tmp) / "data", serve_args=serve_args, extra_env=extra_env) as server:
            token, project = light_use(server, Path(tmp), ui=args.ui)
            time.sleep(SETTLE)
            rows = measure(server)
            speed, loaded = {}, {}
            if args.wrk:
                for path in ("/bench/simple/", project):
                    wrk(server.url(path), token, 2)  # warm-up
                    speed[path] = wrk(server.url(path), token, args.wrk)
                loaded = {pid: kib for pid, _name, kib in measure(server)}
    print("| process | PSS after light use |" + (" after wrk |" if loaded else ""))
    print("|---|---:|" + ("---:|" if loaded else ""))
    for pid, name, kib in rows:
        after = f" {loaded.get(pid, 0) / 1024:.0f} MB |" if loaded else ""
        print(f"| `{name}` | {kib / 1024:.0f} MB |{after}")
    total = sum(kib for _pid, _name, kib in rows)
    after = f" **{sum(loaded.values()) / 1024:.0f} MB** |" if loaded else ""
    print(f"| **total, {len(rows)} processes** | **{total / 1024:.0f} MB** |{after}")
    for path, row in speed.items():
        print(f"\n`{path}`: {row['rps']:,.0f} req/s, p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms")
    # For bench/summary.py, whose budget is measured without --ui.
    out = Path(__file__).parent / "results" / ("serve-memory-ui.json" if args.ui else "serve-memory.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "processes": len(rows), "pss_mb": round(total / 1024, 1),
        "pss_mb_after_wrk": round(sum(loaded.values()) / 1024, 1) if loaded else None, "wrk": speed,
    }, indent=1))


if __name__ == "__main__":
    main()
