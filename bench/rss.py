"""Memory of a process tree while a benchmark runs: the idle figure before,
the peak sampled every 50 ms during."""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.services import descendants  # noqa: E402

SAMPLE_EVERY = 0.05  # seconds


def tree_rss_kib(root: int) -> int:
    """Sum of VmRSS over `root` and all its descendants."""
    total = 0
    for pid in (root, *descendants(root)):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def child_pid(parent: int, marker: bytes) -> int:
    """The child of `parent` whose command line contains `marker` (b"gunicorn", b"worker")."""
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except (FileNotFoundError, ProcessLookupError):
            continue
        if ppid == parent and marker in cmd:
            return int(entry)
    raise RuntimeError(f"no child of {parent} runs {marker.decode()}")


class PeakRss:
    """`with PeakRss(pid) as rss: ...` then rss.idle and rss.peak, in KiB."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.idle = self.peak = tree_rss_kib(root)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_kib(self.root))
            time.sleep(SAMPLE_EVERY)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
