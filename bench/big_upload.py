#!/usr/bin/env python3
"""Does a big upload cost the web processes memory in proportion to its size?
twine uploads one wheel of incompressible bytes (20 MB, then 200 MB by
default) to a fresh embedded Envelope while the web server process tree's RSS
is sampled every 50 ms. Peak memory must stay flat as the file grows.

    .venv/bin/python bench/big_upload.py [--sizes-mb 20,200]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rss import PeakRss, child_pid  # noqa: E402
from tests.builders import make_wheel  # noqa: E402
from tests.services import EnvelopeServer, client_environ  # noqa: E402


def one_upload(size_mb: int, workdir: Path) -> tuple[float, int, int]:
    wheel = make_wheel(workdir / f"dist-{size_mb}", "biglib", "1.0", tags="cp312-cp312-manylinux_2_17_x86_64",
                       files={"biglib/_native.so": os.urandom(size_mb * 1024**2)})
    with EnvelopeServer(workdir / f"data-{size_mb}") as server:
        server.cli("org", "create", "bench")
        token = server.token("bench", "--scope", "upload")
        web = child_pid(server.pid, b"gunicorn")
        time.sleep(1)
        with PeakRss(web) as rss:
            started = time.monotonic()
            subprocess.run(
                [str(Path(sys.executable).parent / "twine"), "upload", "--non-interactive", "--disable-progress-bar",
                 "--repository-url", server.upload_url("bench"), "-u", "__token__", "-p", token, str(wheel)],
                env=client_environ(), check=True, capture_output=True,
            )
            elapsed = time.monotonic() - started
        return elapsed, rss.idle, rss.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", default="20,200")
    args = parser.parse_args()
    print("| wheel | twine upload | web tree RSS idle -> peak |")
    print("|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="envelope-upload-") as tmp:
        for size in map(int, args.sizes_mb.split(",")):
            elapsed, idle, peak = one_upload(size, Path(tmp))
            print(f"| {size} MiB | {elapsed:.1f} s | {idle / 1024:.0f} -> {peak / 1024:.0f} MiB |", flush=True)


if __name__ == "__main__":
    main()
