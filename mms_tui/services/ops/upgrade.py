"""``mms upgrade``: after installing a new version, bring the database to its schema — safely.

In order: make sure no desk is open on the database (and keep new ones from opening until the upgrade is done);
back it up (a verified, dated backup in the backup folder, or the file given; a PostgreSQL store is backed up with
``pg_dump`` first, and the administrator says so); apply the migrations ``mms init`` applies; run the checks of
``mms check``. Going back to the older version is a restore of that backup with the older version installed.

**Which desks are open.** On SQLite every desk holds a shared lock on a small file beside the database
(``<database>-desks``, :func:`desk_presence`) for as long as it runs; the upgrade takes that lock exclusively, so
it sees every desk on the machine — over SSH, in a browser through ``mms serve`` or at the console — and a desk that
starts during the upgrade is told to wait. On PostgreSQL the server's own list of connections says who is there.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mms_tui.db import database, is_sqlite, is_url
from mms_tui.i18n import _
from mms_tui.services.base.errors import DomainError

try:
    import fcntl
except ImportError:  # pragma: no cover - not a Unix
    fcntl = None  # type: ignore[assignment]


class UpgradeError(DomainError):
    """The upgrade cannot start, or its checks fail; what to do is in the message."""


class DatabaseBeingUpgraded(DomainError):
    """A desk starting while ``mms upgrade`` runs."""


@dataclass(frozen=True)
class UpgradeResult:
    version_before: int
    version: int
    applied: list[int]
    backup: str
    room: str = ""  # the room left free inside the file, and how to hand it back ("" when none)


def presence_file(target: str) -> Path | None:
    """The lock file beside a SQLite database that open desks hold; None for a server database."""
    if is_url(target):
        return None
    return Path(f"{Path(target).expanduser().absolute()}-desks")


def _open_presence(path: Path) -> int | None:
    """The presence file opened (made like the database: its mode and group); None when it cannot be."""
    database_file = Path(str(path)[: -len("-desks")])
    try:
        info = os.stat(database_file)
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError:
        return None
    with contextlib.suppress(OSError):  # the file is its maker's; a desk of the group reads it as it is
        if os.fstat(fd).st_uid == os.getuid():
            os.fchown(fd, -1, info.st_gid)
            os.fchmod(fd, info.st_mode & 0o660)
    return fd


@contextlib.contextmanager
def desk_presence(target: str) -> Iterator[None]:
    """Held by a desk while it runs: ``mms upgrade`` waits for none, refuses while any holds it."""
    path = presence_file(target)
    fd = _open_presence(path) if path is not None and fcntl is not None else None
    if fd is None:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DatabaseBeingUpgraded(_("The database is being upgraded ('mms upgrade'); try again in a minute.")) from None
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def no_desks_open(target: str) -> Iterator[None]:
    """Go on only when no desk is open on ``target``; keep new desks out until the block ends."""
    if not is_sqlite():
        others = _other_connections()
        if others:
            raise UpgradeError(_("{n} other connection(s) are open on this database ({who}): close the desks first "
                                 "(stop the desk logins, e.g. 'pkill -x mms' as each desk account), then run "
                                 "'mms upgrade' again.").format(n=len(others), who=", ".join(others)))
        yield
        return
    path = presence_file(target)
    fd = _open_presence(path) if path is not None and fcntl is not None else None
    if fd is None:
        raise UpgradeError(_("Cannot make {path}, which tells whether desks are open: run 'mms upgrade' as the "
                             "database's owner.").format(path=path))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UpgradeError(_("Desks are open on this database: close them first (log out at each desk, or stop "
                                 "the desk logins, e.g. 'pkill -x mms' as each desk account), then run 'mms upgrade' "
                                 "again.")) from None
        yield
    finally:
        os.close(fd)


def _other_connections() -> list[str]:
    rows = database.execute_sql(
        "SELECT coalesce(nullif(usename, ''), '?') || '@' || coalesce(host(client_addr), 'local') "
        "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND backend_type = 'client backend'").fetchall()
    return [row[0] for row in rows]


def upgrade(target: str, *, backup_file: str | None = None, backup_dir: str | None = None,
            keep: int | None = None, backed_up: bool = False) -> UpgradeResult:
    """Back up, migrate, check — with no desk open. ``backed_up``: a backup made another way (pg_dump)."""
    from mms_tui.models.migrations import current_version
    from mms_tui.services.ledger.check import check_ledger
    from mms_tui.services.ops.backup import backup, rotate
    from mms_tui.services.ops.setup import initialise

    if not is_sqlite() and not backed_up:
        raise UpgradeError(_("This store is on PostgreSQL: back it up with pg_dump first (docs/DEPLOY.md), then run "
                             "'mms upgrade --backed-up'."))
    if is_sqlite() and not backed_up and not (backup_file or backup_dir):
        raise UpgradeError(_("Where should the backup before the upgrade go? Give --backup FILE, or --dir DIR (or "
                             "set backup_dir in the configuration)."))
    before = current_version()
    if before == 0:
        raise UpgradeError(_("The database {target} is not set up; run 'mms init'.").format(target=target))
    with no_desks_open(target):
        made = ""
        if not backed_up:
            made = (backup(backup_file) if backup_file else rotate(backup_dir, keep=keep)).path  # type: ignore[arg-type]
        result = initialise()
        problems = check_ledger()
    if problems:
        raise UpgradeError(_("The schema is at {v}, but mms check finds: {problem}. Install the older version again "
                             "and restore the backup {backup} ('mms restore'), then report this.").format(
            v=result.version, problem=problems[0], backup=made or _("you made")))
    return UpgradeResult(before, result.version, result.applied, made, result.room)
