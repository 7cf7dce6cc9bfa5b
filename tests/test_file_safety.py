"""Files mms writes (issue #15): only plain files, whole or not at all, and private.

Exports, backups, the rules file and barcode files are written beside their target and renamed into place; a
target that is a symbolic link, a device node, a named pipe or a socket is refused with one line and left as it
was; a failure (a full disk included) leaves no temporary file behind, and what a ``kill -9`` left behind is swept
by the next write into that folder. Whatever the umask, the database (with its -wal and -shm), its folder,
backups, exports, rules files and card files are created for their owner only (0600, folders 0700).
"""

from __future__ import annotations

import gc
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mms_tui.db import close_database
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.money.topup import top_up
from tests.conftest import setup_desk

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def shop(sqlite_desk):
    """张三 with a stored-value card 000123 holding ¥100."""
    member = register_member("张三", "13800138000", sqlite_desk.cashier, "r1").member_id
    card = issue_card(member, "SV", sqlite_desk.cashier, "i1", card_no="000123").card_id
    top_up(card, 10_000, 0, "cash", sqlite_desk.cashier, "t1")
    close_database()
    return sqlite_desk


def leftovers(folder: Path) -> list[str]:
    """Hidden files a writer made in ``folder`` (temporary files: none may outlive the command)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --- targets that are not plain files -----------------------------------------------------------------------------


def _make(kind: str, path: Path, victim: Path) -> None:
    if kind == "symlink":
        path.symlink_to(victim)
    elif kind == "dangling symlink":
        path.symlink_to(victim.parent / "nothing-here")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # the numbers of /dev/null
    elif kind == "folder":
        path.mkdir()


def _still(kind: str, path: Path) -> bool:
    mode = path.lstat().st_mode
    return {"symlink": stat.S_ISLNK, "dangling symlink": stat.S_ISLNK, "fifo": stat.S_ISFIFO,
            "device": stat.S_ISCHR, "folder": stat.S_ISDIR}[kind](mode)


COMMANDS = {
    "export csv": lambda target: ("export", "members", target),
    "export xlsx": lambda target: ("export", "members", target, "--format", "xlsx"),
    "export member": lambda target: ("export", "member", "13800138000", target),
    "backup": lambda target: ("backup", target, "--force"),
    "rules export": lambda target: ("rules", "export", target),
}


@pytest.mark.parametrize("command, kind", [
    (command, kind) for command in COMMANDS for kind in ("symlink", "dangling symlink", "fifo", "device", "folder")
    if (command, kind) != ("backup", "folder")  # Click itself refuses a folder for backup's FILE
])
def test_a_target_that_is_not_a_plain_file_is_refused_and_left_as_it_was(run, shop, tmp_path, command, kind):
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    target = out / "target.csv"
    _make(kind, target, victim)
    reader = os.open(target, os.O_RDONLY | os.O_NONBLOCK) if kind == "fifo" else None  # no writer ever blocks
    try:
        result = run("--db", shop.target, *COMMANDS[command](str(target)))
    finally:
        if reader is not None:
            os.close(reader)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(target) in lines[0], lines
    expected = "is a symbolic link" if "symlink" in kind else "is not a plain file"
    assert expected in lines[0], lines
    assert _still(kind, target)
    assert victim.read_text(encoding="utf-8") == "precious"
    assert leftovers(out) == []


@pytest.mark.parametrize("kind", ["symlink", "device", "fifo"])
def test_a_barcode_file_name_taken_by_a_link_or_a_device_is_refused(run, shop, tmp_path, kind):
    out = tmp_path / "cards"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    target = out / "000123.svg"
    _make(kind, target, victim)
    reader = os.open(target, os.O_RDONLY | os.O_NONBLOCK) if kind == "fifo" else None
    try:
        result = run("--db", shop.target, "cards", "print", out, "--card", "000123")
    finally:
        if reader is not None:
            os.close(reader)
    assert result.exit_code == 1, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and str(target) in result.stderr
    assert _still(kind, target)
    assert victim.read_text(encoding="utf-8") == "precious"
    assert leftovers(out) == []


def test_a_link_in_the_path_above_the_file_is_followed_as_asked(run, shop, tmp_path):
    """Only the file itself must be plain: a folder reached through a link is where the operator sent it."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "via").symlink_to(real)
    result = run("--db", shop.target, "export", "members", str(tmp_path / "via" / "m.csv"))
    assert result.exit_code == 0, result.output
    assert (real / "m.csv").is_file()


def test_a_regular_file_is_still_replaced_whole(run, shop, tmp_path):
    target = tmp_path / "m.csv"
    target.write_text("yesterday\n", encoding="utf-8")
    result = run("--db", shop.target, "export", "members", str(target))
    assert result.exit_code == 0, result.output
    assert "张三" in target.read_text(encoding="utf-8-sig")
    assert leftovers(tmp_path) == []


# --- nothing left behind ------------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs of its own; unmounted afterwards."""
    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here ({mounted.stderr.strip() or 'mount failed'})")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(folder: Path) -> None:
    with (folder / "filler").open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # openpyxl's abandoned zip writer
def test_an_export_to_a_full_disk_is_one_line_keeps_the_old_file_and_leaves_nothing(run, sqlite_desk, small_disk):
    for i in range(300):  # enough members that their export does not fit in what is left
        register_member(f"会员{i}", f"136{i:08d}", sqlite_desk.cashier, f"m{i}", notes="备注" * 100)
    close_database()
    target = small_disk / "members.csv"
    target.write_text("yesterday\n", encoding="utf-8")
    _fill(small_disk)
    for name in ("members.csv", "members.xlsx", "members.json"):
        result = run("--db", sqlite_desk.target, "export", "members", str(small_disk / name))
        assert result.exit_code == 1, result.output
        assert len(result.stderr.strip().splitlines()) == 1 and "No space left" in result.stderr
    assert target.read_text(encoding="utf-8") == "yesterday\n"
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "members.csv"]
    gc.collect()  # here, not in the next test


def _export_killed_midway(db: str, target: Path) -> None:
    """``mms export`` of a big workbook, killed with SIGKILL while it writes."""
    env = {**os.environ, "MMS_CONFIG": str(target.parent / "absent.toml"), "MMS_LANG": "en"}
    proc = subprocess.Popen([sys.executable, "-m", "mms_tui", "--db", db, "export", "members", str(target)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    try:
        while not [p for p in target.parent.iterdir() if p.name.startswith(f".{target.name}")]:
            assert proc.poll() is None, "the export finished before it could be killed"
            assert time.monotonic() < deadline, "no temporary file appeared"
            time.sleep(0.002)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.slow
def test_what_a_kill_9_left_behind_is_swept_by_the_next_write(run, tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    import bigdb

    db = str(tmp_path / "big.sqlite3")
    bigdb.build(db, members=5_000, days=1)
    close_database()
    out = tmp_path / "out"
    out.mkdir()
    _export_killed_midway(db, out / "members.xlsx")
    assert leftovers(out) != []  # the kill left its temporary file
    result = run("--db", db, "export", "cards", str(out / "cards.csv"))
    assert result.exit_code == 0, result.output
    assert leftovers(out) == []
    assert sorted(p.name for p in out.iterdir()) == ["cards.csv"]


def test_a_temporary_file_still_being_written_is_not_swept(run, shop, tmp_path):
    """A second export into the same folder while a first one is still writing leaves the first one's file."""
    out = tmp_path / "out"
    out.mkdir()
    code = ("import sys, time\n"
            "from mms_tui.services.base.files import atomic_file\n"
            "with atomic_file(sys.argv[1]) as out:\n"
            "    out.write(b'half')\n"
            "    out.flush()\n"
            "    print('writing', flush=True)\n"
            "    sys.stdin.readline()\n"
            "    out.write(b' and whole')\n")
    writer = subprocess.Popen([sys.executable, "-c", code, str(out / "slow.txt")], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "writing\n"
        assert len(leftovers(out)) == 1
        assert run("--db", shop.target, "export", "members", str(out / "m.csv")).exit_code == 0
        assert len(leftovers(out)) == 1  # still there: its writer is alive
        writer.communicate("go\n", timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == 0
    assert (out / "slow.txt").read_bytes() == b"half and whole"
    assert leftovers(out) == []


# --- private files ------------------------------------------------------------------------------------------------


@pytest.fixture
def open_umask():
    """The most permissive umask: every mode below is mms's own doing."""
    old = os.umask(0)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_its_wal_shm_and_folder_are_private(open_umask, tmp_path):
    target = tmp_path / "data" / "mms.sqlite3"
    desk = setup_desk(str(target))
    register_member("张三", "13800138000", desk.cashier, "r1")  # the connection is still open: -wal and -shm exist
    try:
        assert mode(target.parent) == 0o700
        for suffix in ("", "-wal", "-shm"):
            assert mode(Path(f"{target}{suffix}")) == 0o600, suffix
    finally:
        close_database()


def test_backups_exports_rules_and_card_files_are_private(open_umask, run, shop, tmp_path):
    out = tmp_path / "out"
    out.mkdir(mode=0o755)
    old = out / "old-export.csv"
    old.write_text("yesterday\n", encoding="utf-8")
    old.chmod(0o644)
    commands = [
        ("backup", out / "backup.sqlite3"),
        ("export", "members", out / "members.csv"),
        ("export", "members", out / "members.xlsx"),
        ("export", "member", "13800138000", out / "zhang.json"),
        ("export", "ledger", old),
        ("rules", "export", out / "rules.toml"),
        ("cards", "print", out / "cards", "--all-cards"),
        ("cards", "print", out / "sheets", "--all-cards", "--sheet", "--format", "png"),
    ]
    for command in commands:
        result = run("--db", shop.target, *command)
        assert result.exit_code == 0, (command, result.output)
    for folder in ("cards", "sheets"):
        assert mode(out / folder) == 0o700, folder
    written = [p for p in out.rglob("*") if p.is_file()]
    assert len(written) == 8
    assert {p.name: mode(p) for p in written} == {p.name: 0o600 for p in written}


# --- names SQLite would read as a URI -----------------------------------------------------------------------------


def test_a_backup_named_with_a_hash_restores_that_backup_not_an_empty_file(run, shop, tmp_path):
    """'#' and '?' end a path in a SQLite URI: the copy was checked, and restored, from a new empty file named by
    the part before them — and restoring that emptied the live database."""
    out = tmp_path / "backups"
    out.mkdir()
    target = out / "shop#1?.sqlite3"
    made = run("--db", shop.target, "backup", str(target))
    assert made.exit_code == 0, made.output
    assert sorted(p.name for p in out.iterdir()) == ["shop#1?.sqlite3"]  # no stray empty database beside it
    restored = run("--db", shop.target, "restore", str(target), "--yes")
    assert restored.exit_code == 0, restored.output
    assert sorted(p.name for p in out.iterdir()) == ["shop#1?.sqlite3"]
    found = run("--db", shop.target, "lookup", "13800138000")
    assert found.exit_code == 0 and "张三" in found.stdout, found.output
