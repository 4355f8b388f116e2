"""The data directory's privacy: files only its owner reads, the secret key
made once. Used by Settings (envelope.config) and by every entry point."""
from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

OWNER_ONLY_UMASK = 0o077  # new files 0600, new folders 0700
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# Files of the data dir that an older version created readable by everyone.
_DATA_FILES = ("secret_key", "envelope.db", "envelope.db-wal", "envelope.db-shm",
               "broker.db", "broker.db-wal", "broker.db-shm")
_DATA_FOLDERS = ("mail", "files", "tmp")


def restrict_new_files_to_owner() -> None:
    """From now on this process creates files 0600 and folders 0700: the
    SQLite database and its -wal/-shm, broker.db, mail with live links, stored
    distributions. Called first thing by each entry point (the CLI, the web server's
    app module, the Celery app) rather than by from_env, so a program that
    merely reads settings (a test run) keeps its umask."""
    os.umask(OWNER_ONLY_UMASK)


def make_data_dir_private(data_dir: Path) -> None:
    """Create the data dir 0700, and tighten one an older version left open
    (0755 folder, 0644 database): it holds the secret key, the database and
    mail with live links. With the folder 0700 nothing below it is reachable
    by other users, whatever the files' own modes; the known files are
    tightened too in case the folder is opened up again."""
    data_dir.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    _restrict(data_dir, PRIVATE_DIR)
    for name in _DATA_FOLDERS:
        _restrict(data_dir / name, PRIVATE_DIR)
    for name in _DATA_FILES:
        _restrict(data_dir / name, PRIVATE_FILE)


def _restrict(path: Path, mode: int) -> None:
    """chmod `path` to `mode` if it exists, is ours and allows more; a data
    dir owned by someone else (a shared mount) is left as it is, with a warning."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_mode & 0o777 & ~mode == 0:
        return
    try:
        path.chmod(mode)
    except OSError as exc:
        log.warning("Cannot restrict %s to its owner (%s); other users may read it.", path, exc.strerror)


def stored_secret_key(data_dir: Path) -> str:
    """Generate the key once so sessions survive restarts of an embedded install.

    Several processes may start at once (web, worker, beat): the key is
    written to a private temporary file and linked into place, which either
    creates the file complete or fails because another process won; then
    that process's key is read."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    # Imported here, once per install: `serve`'s supervisor reads settings
    # for as long as the index runs, and secrets brings hashlib and OpenSSL
    # (about 4 MB; bench/README.md).
    import secrets
    import tempfile

    # mkstemp creates the file 0600, so the key is never readable by others,
    # even for the moment before it is linked into place.
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".secret_key-")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    return path.read_text().strip()
