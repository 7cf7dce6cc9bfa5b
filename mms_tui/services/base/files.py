"""Files mms writes: plain files only, whole or not at all, and private.

Every file the services write — exports, backups, the rules document, barcode files and label sheets — goes through
:func:`atomic_file` (or :func:`atomic_path` when another library writes by name: SQLite's backup, openpyxl). The
bytes go to a temporary file in the target's folder, created 0600 whatever the umask and locked while it is being
written; only when the writer has finished is it synced and renamed onto the target, and the folder synced. Any
failure — a full disk, Ctrl+C, an exception — removes the temporary file. A writer killed outright (``kill -9``, a
power cut) cannot clean up: its file stays behind, no longer locked, and the next write into that folder sweeps it.

**Only plain files.** The target must be absent or a regular file. A symbolic link is refused, never followed and
never replaced: a link planted at the target's name would otherwise send the data elsewhere or silently lose the
link. So are a folder, a device node, a named pipe and a socket (renaming onto a device node replaced the node).
To stream into a pipe, write to standard output (``-``) where a command offers it and redirect. Links in the folders
above the file are followed: that is where the operator sent the file.

**Private.** New files are 0600 and new folders 0700, whatever the umask; a file replaced becomes a new, private
file. The one exception is the database itself when the deployment names a group the desk accounts share it
through (setting ``group``): its file is made 0660 and its folder 2770, of that group (:func:`shared_gid`).
"""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from mms_tui.i18n import _
from mms_tui.services.base.errors import DomainError, InvalidInput

try:
    import fcntl
except ImportError:  # pragma: no cover - not a Unix: no locks, so nothing is ever swept
    fcntl = None  # type: ignore[assignment]

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
#: the database file and its folder when desk accounts share them through a group (setgid: the -wal and -shm a desk
#: makes there belong to the group too)
SHARED_FILE = 0o660
SHARED_FOLDER = 0o2770
#: the end of every temporary file's name (``.members.csv.1f2e3d4c.mms-partial``)
TEMPORARY_MARK = ".mms-partial"
#: what SQLite may leave beside a database it was writing (a backup's temporary file)
SQLITE_SIDECARS = ("-journal", "-wal", "-shm")

#: folders this process has swept already: once is enough (a sheet of 10,000 card files must not list the folder
#: 10,000 times), and a process's own writers clean up after themselves
_swept: set[str] = set()


class NotAPlainFile(InvalidInput):
    """The target exists and is not a regular file (or is a symbolic link): nothing is written to it."""

    code = "not_a_plain_file"


class CannotWrite(DomainError):
    code = "cannot_write"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return _("a folder")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return _("a device")
    if stat.S_ISFIFO(mode):
        return _("a named pipe")
    if stat.S_ISSOCK(mode):
        return _("a socket")
    return _("not a regular file")


def check_target(target: str | os.PathLike[str]) -> Path:
    """``target`` as a Path, or NotAPlainFile when something other than a regular file (or nothing) is there."""
    path = Path(target).expanduser()
    try:
        mode = os.lstat(path).st_mode
    except OSError:  # nothing there (or a folder on the way is missing: the write itself says so)
        return path
    if stat.S_ISLNK(mode):
        raise NotAPlainFile(_("{path} is a symbolic link: mms does not write through links; give the path of the "
                              "file itself.").format(path=path))
    if not stat.S_ISREG(mode):
        raise NotAPlainFile(_("{path} is not a plain file (it is {kind}): nothing was written to it.").format(
            path=path, kind=_kind(mode)))
    return path


def shared_gid(group: str) -> int:
    """The id of the Unix group ``group`` (a name or a number), or InvalidInput saying it does not exist."""
    try:
        return int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
    except KeyError:
        raise InvalidInput(_("There is no Unix group {group!r} (setting group): create it with 'groupadd {group}' "
                             "and add the desk accounts to it.").format(group=group)) from None


def make_private_folder(path: str | os.PathLike[str], group: str = "") -> bool:
    """Create the folder ``path`` (and missing folders above it) for its owner only (0700), whatever the umask —
    or with ``group`` for that group too (2770); True when it was created. A folder that exists is left as it
    is; a file in its place raises FileExistsError."""
    path = Path(path)
    gid = shared_gid(group) if group else -1
    try:
        try:
            path.mkdir(mode=PRIVATE_FOLDER)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.mkdir(mode=PRIVATE_FOLDER)
    except FileExistsError:
        if path.is_dir():
            return False
        raise
    if group:
        os.chown(path, -1, gid)
    os.chmod(path, SHARED_FOLDER if group else PRIVATE_FOLDER)  # the umask may have taken bits away
    return True


def create_private_file(path: str | os.PathLike[str], group: str = "") -> bool:
    """Create an empty file for its owner only (0600) — or with ``group`` for that group too (0660) — unless one
    is there already; True when it was created."""
    gid = shared_gid(group) if group else -1
    mode = SHARED_FILE if group else PRIVATE_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
    except FileExistsError:
        return False
    try:
        if group:
            os.fchown(fd, -1, gid)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return True


# --- temporary files --------------------------------------------------------------------------------------------


def _lock(fd: int, wait: bool) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def _same_file(path: str, fd: int) -> bool:
    try:
        here, held = os.stat(path, follow_symlinks=False), os.fstat(fd)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino)


def _new_temporary(target: Path) -> tuple[int, str]:
    """A new, empty, private temporary file beside ``target``, locked for as long as the returned fd is open."""
    stem = target.name[:80]  # the name must stay within the file system's limit
    for _attempt in range(100):
        name = str(target.parent / f".{stem}.{secrets.token_hex(4)}{TEMPORARY_MARK}")
        try:
            fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, PRIVATE_FILE)
        except FileExistsError:
            continue
        _lock(fd, wait=True)
        if _same_file(name, fd):  # not swept in the moment between creating and locking it
            os.fchmod(fd, PRIVATE_FILE)
            return fd, name
        os.close(fd)
    raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target))


def _remove(name: str) -> None:
    for path in (name, *(name + suffix for suffix in SQLITE_SIDECARS)):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _abandoned(path: str) -> bool:
    """True (and the file removed) when no living writer holds ``path``'s lock: its writer was killed."""
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        if not _lock(fd, wait=False) or not _same_file(path, fd):
            return False
        _remove(path)
        return True
    finally:
        os.close(fd)


def sweep(folder: str | os.PathLike[str]) -> list[str]:
    """Remove the temporary files that writers killed before they could clean up left in ``folder`` (with any
    SQLite journal beside them); files still being written are locked and stay. Returns the names removed."""
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(".") and TEMPORARY_MARK in e.name]
    except OSError:
        return []
    removed = []
    for entry in entries:
        if entry.name.endswith(TEMPORARY_MARK) and entry.is_file(follow_symlinks=False) and _abandoned(entry.path):
            removed.append(entry.name)
    for entry in entries:  # a journal whose temporary file is gone belongs to nobody
        for suffix in SQLITE_SIDECARS:
            if entry.name.endswith(TEMPORARY_MARK + suffix) and not os.path.lexists(entry.path[:-len(suffix)]):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(entry.name)
    return removed


def _sync_folder(folder: Path) -> None:
    """Make the rename itself survive a power cut (where the file system allows a folder to be synced)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _put_in_place(temporary: str, target: Path, replace: bool) -> None:
    check_target(target)  # again: something may have been put at that name while the file was being written
    if replace:
        os.replace(temporary, target)
        return
    try:
        os.link(temporary, target)  # fails when anything is at that name by now: never replaces it
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if os.path.lexists(target):  # a file system without hard links (FAT): look, then rename
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target)) from None
        os.replace(temporary, target)
        return
    os.unlink(temporary)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, replace: bool = True) -> Iterator[Path]:
    """The path of a private temporary file beside ``target`` for a writer that opens files by name; when the block
    ends it becomes ``target`` (``replace=False``: FileExistsError if anything is at that name by then). On any
    failure it is removed. NotAPlainFile when ``target`` is a link, folder, device, pipe or socket; OSError when
    the folder cannot be written."""
    path = check_target(target)
    folder = os.path.abspath(path.parent)
    if folder not in _swept:
        sweep(folder)
        _swept.add(folder)
    fd, temporary = _new_temporary(path)
    try:
        try:
            yield Path(temporary)
            with open(temporary, "rb") as written:
                os.fsync(written.fileno())  # a full disk shows here at the latest, before anything is replaced
            os.chmod(temporary, PRIVATE_FILE)
            _put_in_place(temporary, path, replace)
        except BaseException:
            _remove(temporary)
            raise
        _sync_folder(path.parent)
    finally:
        os.close(fd)  # the lock goes with it


@contextlib.contextmanager
def atomic_file(target: str | os.PathLike[str], *, replace: bool = True) -> Iterator[BinaryIO]:
    """:func:`atomic_path`, opened for writing bytes."""
    with atomic_path(target, replace=replace) as temporary, open(temporary, "wb") as out:
        yield out


def write_file(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` whole or not at all, private; CannotWrite (one line) when it cannot be."""
    try:
        with atomic_file(target) as out:
            out.write(data)
    except OSError as exc:
        raise CannotWrite(_("Cannot write {path}: {error}.").format(path=target, error=exc.strerror or exc)) from None
    return Path(target)
