"""Processes, ports and logs: what every throwaway server is built on."""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parent.parent.parent

LOOPBACK = "127.0.0.1"


class ServiceError(RuntimeError):
    """A throwaway server could not be started or reached (the message says why)."""


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    """Ask the kernel for a currently free loopback TCP port.

    There is a small race between closing this socket and the server binding the
    port; callers start their server immediately, and all servers fail loudly
    (not silently on another port) if the port was taken.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def tail(path: Path | str | None, lines: int = 40) -> str:
    """Last lines of a log file, for error messages (empty string if unreadable)."""
    if path is None:
        return ""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _no_proxy_opener() -> urllib.request.OpenerDirector:
    """urllib opener that ignores *_proxy variables: we only ever talk to loopback."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def wait_for_http(
    url: str,
    timeout: float = 30.0,
    *,
    status: int = 200,
    process: subprocess.Popen[Any] | None = None,
    log_path: Path | str | None = None,
    what: str | None = None,
) -> None:
    """Poll ``GET url`` until it answers ``status``.

    Fails fast when ``process`` exits, and on timeout raises ``ServiceError``
    with the last answer seen and the tail of ``log_path``.
    """
    opener = _no_proxy_opener()
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    name = what or url
    while True:
        if process is not None and process.poll() is not None:
            raise ServiceError(
                f"{name} exited with code {process.returncode} before {url} answered {status}.\n"
                f"--- log tail ---\n{tail(log_path)}"
            )
        try:
            with opener.open(url, timeout=2) as response:
                response.read()
                code = response.status
        except urllib.error.HTTPError as exc:
            code = exc.code
            exc.close()
        except (OSError, urllib.error.URLError) as exc:
            code = None
            last = f"{type(exc).__name__}: {exc}"
        if code == status:
            return
        if code is not None:
            last = f"HTTP {code}"
        if time.monotonic() > deadline:
            raise ServiceError(
                f"{name}: GET {url} did not answer {status} within {timeout:.0f}s (last: {last}).\n"
                f"--- log tail ---\n{tail(log_path)}"
            )
        time.sleep(0.1)


def wait_for_port(
    port: int,
    timeout: float,
    *,
    host: str = LOOPBACK,
    process: subprocess.Popen[Any] | None = None,
    log_path: Path | str | None = None,
    what: str = "server",
) -> None:
    """Wait until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise ServiceError(
                f"{what} exited with code {process.returncode} before listening on {host}:{port}.\n"
                f"--- log tail ---\n{tail(log_path)}"
            )
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"{what} is not listening on {host}:{port} after {timeout:.0f}s ({exc}).\n"
                    f"--- log tail ---\n{tail(log_path)}"
                ) from None
        time.sleep(0.05)


def stop_process_group(
    process: subprocess.Popen[Any] | None,
    *,
    sig: int = signal.SIGTERM,
    grace: float = 10.0,
    leader_only: bool = False,
) -> None:
    """Stop a process started with ``start_new_session=True`` and everything in its group.

    Sends ``sig`` to the group (or only to the leader with ``leader_only``, for
    supervisors that stop their own children in order), waits up to ``grace``
    seconds for the leader, then SIGKILLs the group so no straggler survives.
    """
    if process is None:
        return
    pgid = process.pid  # session leader: its pid is the group id
    try:
        if leader_only:
            process.send_signal(sig)
        else:
            os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(pgid, signal.SIGKILL)  # stragglers in the group, or a hung leader
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def descendants(root: int) -> list[int]:
    """Every process below `root`, read from /proc (children first found, then theirs)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        found.extend(children)
        frontier.extend(children)
    return found


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


LIVE: set[Any] = set()


@atexit.register
def _stop_leftovers() -> None:
    """Last resort: never leave servers running after the interpreter exits."""
    for service in list(LIVE):
        try:
            service.stop()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def shutdown(service: Any, sig: int, *, grace: float) -> None:
    """Stop a service's process group and close its log (`process`, `_log`)."""
    LIVE.discard(service)
    stop_process_group(service.process, sig=sig, grace=grace)
    service.process = None
    if service._log is not None:
        service._log.close()
        service._log = None


def open_log(path: Path) -> IO[bytes]:
    return open(path, "ab")  # noqa: SIM115 - closed in stop()


def rmtree(path: Path | None) -> None:
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- PostgreSQL
