"""``newsdesk backup PATH``: an online, consistent copy of the SQLite database.

sqlite3's backup API copies the database as one snapshot (a read transaction: under WAL the bot
keeps writing meanwhile, and the copy is the database as of the moment the copy began), into a
file only its owner may read, checked before it takes ``PATH``'s name. PostgreSQL has its own
tool for this: pg_dump.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.errors import NewsdeskError

PRIVATE_MODE = 0o600
BUSY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class BackupResult:
    source: Path
    target: Path
    size: int
    pages: int


def backup(database_url: str, target: str | os.PathLike[str], *, force: bool = False) -> BackupResult:
    """Copy the SQLite database of ``database_url`` to ``target``. Raises NewsdeskError."""
    source = sqlite_path(database_url)
    target_path = Path(target).expanduser()
    if target_path.exists() and not force:
        raise NewsdeskError(f"{target_path} exists: choose a new file, or pass --force to replace it")
    if target_path.resolve() == source.resolve():
        raise NewsdeskError("the backup cannot be the database itself")
    partial = target_path.with_name(f".{target_path.name}.partial")
    try:
        _copy(source, partial)
        os.replace(partial, target_path)
    except (OSError, sqlite3.Error) as e:
        raise NewsdeskError(f"backup to {target_path} failed: {e}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    pages = _check(target_path)
    return BackupResult(source, target_path, target_path.stat().st_size, pages)


def sqlite_path(database_url: str) -> Path:
    """The SQLite file of ``database_url``. Raises NewsdeskError for PostgreSQL or a missing file."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise NewsdeskError(
            "newsdesk backup copies an SQLite database; this bot uses PostgreSQL: back it up with "
            "pg_dump (for example: pg_dump --format=custom --file=newsdesk.dump DATABASE_URL)"
        )
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise NewsdeskError(f"no database file in {url.render_as_string(hide_password=True)}")
    path = Path(database).expanduser()
    if not path.is_file():
        raise NewsdeskError(f"no SQLite database at {path} (database.url)")
    return path


def _copy(source: Path, partial: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    # Created private before SQLite opens it: the copy holds every server's settings.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_MODE))
    # Read-write, as the bot opens it: a read-only connection to a WAL database fails when the
    # bot is not running (no -shm file to map). The backup only reads.
    src = sqlite3.connect(source, timeout=BUSY_TIMEOUT_S)
    try:
        dst = sqlite3.connect(partial)
        try:
            # pages=-1: the whole database in one step, so one snapshot; in steps, a write by the
            # bot between two of them would restart the copy.
            src.backup(dst, pages=-1)
            # A standalone file: no -wal beside it to carry along.
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def _check(path: Path) -> int:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        verdict = conn.execute("PRAGMA quick_check").fetchone()
        pages = conn.execute("PRAGMA page_count").fetchone()
    finally:
        conn.close()
    if not verdict or verdict[0] != "ok":
        first = str(verdict[0]).splitlines()[-1] if verdict else "no answer"
        raise NewsdeskError(f"the backup at {path} fails SQLite's check: {first}")
    return int(pages[0])
