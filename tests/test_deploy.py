"""Running it for real (#18): the configuration layers, the modes of the files mms makes, rotated and compressed
backups, ``mms doctor`` failing on each broken thing it checks, and ``mms upgrade``."""

from __future__ import annotations

import datetime as dt
import grp
import gzip
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mms_tui import clock
from mms_tui.db import close_database
from mms_tui.models import SchemaVersion
from mms_tui.models.migrations import LATEST
from mms_tui.services.ops.backup import dated_backups, verify
from mms_tui.services.ops.setup import connect
from mms_tui.settings import load_settings
from tests.conftest import ADMIN_PIN

UTC = dt.UTC


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# --- configuration layers ------------------------------------------------------------------------------------------


def test_the_system_file_lies_under_the_users_under_the_environment_under_options(tmp_path):
    system = tmp_path / "etc.toml"
    system.write_text('store = "S1"\nlang = "zh"\nlock_minutes = 5\nbackup_dir = "/srv/bk"\n')
    user = tmp_path / "user.toml"
    user.write_text('store = "S2"\nlang = "en"\n')
    env = {"MMS_SYSTEM_CONFIG": str(system), "MMS_CONFIG": str(user), "MMS_LANG": "zh"}
    settings = load_settings(env=env, store="S9")
    assert settings.store == "S9"  # option over everything
    assert settings.lang == "zh"  # environment over the user's file
    assert settings.lock_minutes == 5 and settings.backup_dir == "/srv/bk"  # only the system file says these
    assert settings.config_files == (str(system), str(user))
    assert load_settings(env={**env, "MMS_LANG": ""}).lang == "en"  # the user's file over the system's
    assert load_settings(env={"MMS_SYSTEM_CONFIG": str(system), "MMS_CONFIG": str(tmp_path / "none.toml")}).store == "S1"


def test_a_broken_system_file_is_one_clear_line(run, tmp_path):
    system = tmp_path / "etc.toml"
    system.write_text('stor = "S1"\n')
    result = run("info", extra_env={"MMS_SYSTEM_CONFIG": str(system)})
    assert result.exit_code == 1 and "unknown setting 'stor'" in result.output and str(system) in result.output


# --- file modes ----------------------------------------------------------------------------------------------------


@pytest.fixture
def open_umask():
    old = os.umask(0)  # the loosest umask: what mms makes must be private anyway
    yield
    os.umask(old)


def test_a_new_database_and_its_folder_are_private_whatever_the_umask(run, tmp_path, open_umask):
    target = tmp_path / "xdg" / "mms" / "mms.sqlite3"  # the default place, whose folder mms makes
    result = run("init", "--admin-pin", ADMIN_PIN, extra_env={"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert result.exit_code == 0, result.output
    assert mode(target) == 0o600 and mode(target.parent) == 0o700
    for sidecar in (f"{target}-wal", f"{target}-shm"):
        if os.path.exists(sidecar):
            assert mode(sidecar) == 0o600


def _another_group() -> grp.struct_group:
    mine = [g for g in os.getgroups() if g != os.getgid()]
    if os.getuid() == 0:
        mine += [g.gr_gid for g in grp.getgrall() if g.gr_gid != os.getgid()]
    if not mine:
        pytest.skip("this account belongs to no second group to share the database with")
    return grp.getgrgid(mine[0])


def test_with_a_group_setting_the_database_is_shared_with_the_desks_group_only(run, tmp_path, open_umask):
    group = _another_group()
    target = tmp_path / "xdg" / "mms" / "mms.sqlite3"  # the default place, whose folder mms makes
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "MMS_GROUP": group.gr_name}
    assert run("init", "--admin-pin", ADMIN_PIN, extra_env=env).exit_code == 0
    assert mode(target) == 0o660 and os.stat(target).st_gid == group.gr_gid
    assert mode(target.parent) == 0o2770 and os.stat(target.parent).st_gid == group.gr_gid
    typed = tmp_path / "srv" / "shop.sqlite3"  # a folder the administrator made (DEPLOY.md: install -d -m 2770)
    typed.parent.mkdir()
    assert run("--db", typed, "init", "--admin-pin", ADMIN_PIN, extra_env=env).exit_code == 0
    assert mode(typed) == 0o660 and os.stat(typed).st_gid == group.gr_gid
    assert run("check", extra_env=env).exit_code == 0
    for sidecar in (f"{target}-wal", f"{target}-shm"):
        if os.path.exists(sidecar):
            assert mode(sidecar) & 0o007 == 0


def test_an_unknown_group_is_one_line_before_anything_is_made(run, tmp_path):
    target = tmp_path / "shop.sqlite3"
    result = run("--db", target, "init", "--admin-pin", ADMIN_PIN, extra_env={"MMS_GROUP": "no-such-grp"})
    assert result.exit_code == 1 and "no-such-grp" in result.output and "groupadd" in result.output
    assert not target.exists()


# --- backups -------------------------------------------------------------------------------------------------------


def test_backups_are_private_files_whatever_the_umask(run, sqlite_desk, tmp_path, open_umask):
    plain, packed = tmp_path / "b.sqlite3", tmp_path / "b.sqlite3.gz"
    assert run("--db", sqlite_desk.target, "backup", plain).exit_code == 0
    assert run("--db", sqlite_desk.target, "backup", packed).exit_code == 0
    assert mode(plain) == 0o600 and mode(packed) == 0o600


def test_a_gz_target_is_compressed_verified_and_restores(run, regular, tmp_path):
    target = tmp_path / "shop.sqlite3.gz"
    result = run("--db", regular.target, "backup", target)
    assert result.exit_code == 0, result.output
    with gzip.open(target) as packed:
        assert packed.read(16) == b"SQLite format 3\x00"
    plain = tmp_path / "shop.sqlite3"
    assert run("--db", regular.target, "backup", plain).exit_code == 0
    assert target.stat().st_size < plain.stat().st_size / 2
    assert verify(target) == LATEST
    connect(regular.target)
    from mms_tui.services.members.profile import register_member

    register_member("李四", "13912345678", regular.cashier, "r-after")
    restored = run("--db", regular.target, "restore", target, "--yes")
    assert restored.exit_code == 0, restored.output
    connect(regular.target)
    from mms_tui.models import Member

    assert [m.name for m in Member.select()] == ["张三"]


def test_a_damaged_compressed_backup_is_refused_and_the_database_stays(run, regular, tmp_path):
    target = tmp_path / "shop.sqlite3.gz"
    assert run("--db", regular.target, "backup", target).exit_code == 0
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    result = run("--db", regular.target, "restore", target, "--yes")
    assert result.exit_code == 1 and str(target) in result.output
    assert "Traceback" not in result.output
    assert run("--db", regular.target, "check").exit_code == 0


def test_rotation_keeps_the_newest_n_each_verified_and_touches_nothing_else(run, regular, tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir(mode=0o700)
    mine = folder / "notes.txt"
    mine.write_text("the administrator's own file")
    stray = folder / "mms-old-by-hand.sqlite3"
    stray.write_text("not a dated backup")
    made = []
    for _round in range(5):
        result = run("--db", regular.target, "backup", "--dir", folder, "--keep", 3, "--gzip")
        assert result.exit_code == 0, result.output
        made.append(result.output.split("Backup written to ")[1].split(" (")[0])
    kept = dated_backups(folder)
    assert [str(p) for p in kept] == made[-3:]  # the newest three, in the order they were made
    for backup in kept:
        assert backup.name.endswith(".sqlite3.gz") and verify(backup) == LATEST
        assert mode(backup) == 0o600
    assert mine.read_text() == "the administrator's own file" and stray.exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no scratch left behind


def test_backup_dir_from_the_settings_and_the_usage_errors(run, regular, tmp_path):
    folder = tmp_path / "bk"
    folder.mkdir()
    result = run("--db", regular.target, "backup", extra_env={"MMS_BACKUP_DIR": str(folder)})
    assert result.exit_code == 0, result.output
    assert len(dated_backups(folder)) == 1 and dated_backups(folder)[0].suffix == ".sqlite3"
    neither = run("--db", regular.target, "backup")
    assert neither.exit_code == 2 and "--dir" in neither.output
    both = run("--db", regular.target, "backup", tmp_path / "x.sqlite3", "--keep", 2)
    assert both.exit_code == 2
    missing = run("--db", regular.target, "backup", "--dir", tmp_path / "nope")
    assert missing.exit_code == 1 and "does not exist" in missing.output and not (tmp_path / "nope").exists()


# --- mms doctor ----------------------------------------------------------------------------------------------------


@pytest.fixture
def healthy(run, regular, tmp_path):
    """A deployment with nothing wrong: a fresh backup, every job run, the database private."""
    folder = tmp_path / "backups"
    folder.mkdir(mode=0o700)
    env = {"MMS_DB": regular.target, "MMS_BACKUP_DIR": str(folder)}
    assert run("backup", extra_env=env).exit_code == 0
    assert run("check", "--job", extra_env=env).exit_code == 0
    assert run("points", "expire", extra_env=env).exit_code == 0
    assert run("tiers", "review", extra_env=env).exit_code == 0
    close_database()
    return env


def doctor(run, env, *args):
    result = run("doctor", *args, extra_env=env)
    failed = [line for line in result.output.splitlines() if line.startswith("FAIL")]
    return result, failed


def test_doctor_is_content_with_a_healthy_deployment(run, healthy):
    result, failed = doctor(run, healthy)
    assert result.exit_code == 0, result.output
    assert not failed and "All is well." in result.output
    for name in ("database", "file modes", "free disk", "write-ahead log", "last backup", "time zone",
                 "job mms points expire", "job mms tiers review", "job mms check", "message worker"):
        assert f"ok    {name}" in result.output


def _fails_on(run, env, name: str, fix: str) -> None:
    result, failed = doctor(run, env)
    assert result.exit_code == 1, result.output
    assert [line for line in failed if line.startswith(f"FAIL  {name}")], result.output
    assert fix in result.output, result.output


def test_doctor_fails_on_a_database_it_cannot_reach(run, healthy, tmp_path):
    _fails_on(run, {**healthy, "MMS_DB": str(tmp_path / "typo.sqlite3")}, "database", "mms init")
    assert not (tmp_path / "typo.sqlite3").exists()


def test_doctor_fails_on_an_old_schema(run, healthy):
    connect(healthy["MMS_DB"])
    SchemaVersion.delete().where(SchemaVersion.version == LATEST).execute()
    close_database()
    _fails_on(run, healthy, "database", "mms upgrade")


def test_doctor_fails_on_a_database_others_can_read(run, healthy):
    os.chmod(healthy["MMS_DB"], 0o644)
    _fails_on(run, healthy, "file modes", f"chmod o-rwx {healthy['MMS_DB']}")


def test_doctor_fails_on_a_database_not_shared_with_the_desks_group(run, healthy):
    group = _another_group()
    _fails_on(run, {**healthy, "MMS_GROUP": group.gr_name}, "file modes", f"chgrp {group.gr_name}")


def test_doctor_fails_without_a_backup_folder_or_with_an_old_backup(run, healthy):
    _fails_on(run, {**healthy, "MMS_BACKUP_DIR": ""}, "last backup", "backup_dir")
    from mms_tui import clock

    for backup in dated_backups(healthy["MMS_BACKUP_DIR"]):  # made three days ago, as its name says
        then = (clock.now() - dt.timedelta(days=3)).strftime("%Y%m%d-%H%M%S")
        backup.rename(backup.with_name(f"mms-{then}.sqlite3"))
    _fails_on(run, healthy, "last backup", "the backup job has stopped")


def test_doctor_fails_on_backups_others_can_read(run, healthy):
    os.chmod(healthy["MMS_BACKUP_DIR"], 0o755)
    _fails_on(run, healthy, "last backup", "chmod o-rwx")


def test_doctor_fails_on_a_reader_or_printer_it_cannot_reach(run, healthy):
    controller, device = os.openpty()
    try:
        env = {**healthy, "MMS_CARD_READER": os.ttyname(device)}
        result, _failed = doctor(run, env)
        assert result.exit_code == 0 and "ok    card reader" in result.output, result.output
        _fails_on(run, {**env, "MMS_CARD_READER": "/dev/ttyNOSUCH0"}, "card reader", "ser2net")
        _fails_on(run, {**env, "MMS_PRINTER": "socket://127.0.0.1:9"}, "printer", "check the cable")
    finally:
        os.close(controller)
        os.close(device)


def test_doctor_fails_on_jobs_that_never_ran_or_stopped(run, healthy):
    from mms_tui.db import write_transaction
    from mms_tui.services.base.config import set_config

    connect(healthy["MMS_DB"])
    old = (clock.utc_now() - dt.timedelta(days=4)).isoformat(timespec="seconds")
    with write_transaction():
        set_config("job_runs", {"points_expire": old, "check": clock.utc_now().isoformat()})
    close_database()
    result, failed = doctor(run, healthy)
    assert result.exit_code == 1
    assert any("job mms points expire: last ran 4 days ago" in line for line in failed), result.output
    assert any("job mms tiers review: has never run" in line for line in failed), result.output
    assert not any("job mms check" in line for line in failed)


def test_doctor_fails_when_the_stores_time_zone_is_not_recorded(run, healthy):
    from mms_tui.models import Config

    connect(healthy["MMS_DB"])
    Config.delete().where(Config.key == "time_zone").execute()
    close_database()
    _fails_on(run, healthy, "time zone", "mms init --time-zone")


def test_doctor_fails_on_a_full_disk_and_a_swollen_write_ahead_log(healthy):
    from mms_tui.services.ops.doctor import diagnose

    settings = load_settings(env={**healthy, "MMS_CONFIG": "/nonexistent.toml"})
    assert all(f.ok for f in diagnose(settings)), [f for f in diagnose(settings) if not f.ok]
    full = [f for f in diagnose(settings, min_free=1 << 60) if not f.ok]
    assert [f.name for f in full] == ["free disk"] and "free at least" in full[0].fix
    writer = sqlite3.connect(healthy["MMS_DB"], isolation_level=None)  # pages in the log, never folded back:
    writer.execute("PRAGMA wal_autocheckpoint=0")
    # a real change, undone: SQLite skips writing a page whose content an UPDATE leaves as it was
    writer.execute("INSERT INTO config (key, value) VALUES ('doctor scratch', '0')")
    writer.execute("DELETE FROM config WHERE key = 'doctor scratch'")
    reader = sqlite3.connect(healthy["MMS_DB"], isolation_level=None)  # the long-running reader that holds them
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM config").fetchone()
    try:
        assert os.path.getsize(healthy["MMS_DB"] + "-wal") > 0
        swollen = [f for f in diagnose(settings, wal_limit=0) if not f.ok]
        assert [f.name for f in swollen] == ["write-ahead log"] and "long-running reader" in swollen[0].fix
    finally:
        reader.close()
        writer.close()
    close_database()


# --- mms upgrade ---------------------------------------------------------------------------------------------------


def _at_schema_13(target: str) -> None:
    from mms_tui.db import database

    connect(target)
    database.execute_sql('DROP TABLE "category"')
    SchemaVersion.delete().where(SchemaVersion.version > 13).execute()
    close_database()


def test_upgrade_backs_up_migrates_and_checks(run, regular, tmp_path):
    _at_schema_13(regular.target)
    assert "mms upgrade" in run("--db", regular.target, "lookup", "13800138000").output  # the desk says what to run
    folder = tmp_path / "bk"
    folder.mkdir()
    result = run("--db", regular.target, "upgrade", "--dir", folder)
    assert result.exit_code == 0, result.output
    assert f"Schema 13 → {LATEST}" in result.output and "the checks pass" in result.output
    backup, = dated_backups(folder)
    assert verify(backup) == 13  # the backup is of the database before the upgrade: the way back
    assert run("--db", regular.target, "check").exit_code == 0
    again = run("--db", regular.target, "upgrade", "--dir", folder)
    assert again.exit_code == 0 and f"already at version {LATEST}" in again.output


def test_upgrade_wants_a_place_for_its_backup(run, regular):
    result = run("--db", regular.target, "upgrade")
    assert result.exit_code == 1 and "--backup FILE" in result.output


HOLD_A_DESK = """
import sys, time
from mms_tui.services.ops.upgrade import desk_presence
with desk_presence(sys.argv[1]):
    print("open", flush=True)
    time.sleep(60)
"""


def test_upgrade_refuses_while_a_desk_is_open_and_a_desk_waits_for_an_upgrade(run, regular, tmp_path):
    _at_schema_13(regular.target)
    desk = subprocess.Popen([sys.executable, "-c", HOLD_A_DESK, regular.target], stdout=subprocess.PIPE, text=True)
    try:
        assert desk.stdout.readline().strip() == "open"
        result = run("--db", regular.target, "upgrade", "--backup", tmp_path / "before.sqlite3")
        assert result.exit_code == 1 and "Desks are open" in result.output and "pkill" in result.output
        assert not (tmp_path / "before.sqlite3").exists()  # refused before anything was done
        connect(regular.target)
        from mms_tui.models.migrations import current_version

        assert current_version() == 13
        close_database()
    finally:
        desk.kill()
        desk.wait()
    from mms_tui.services.base.errors import DomainError
    from mms_tui.services.ops.upgrade import desk_presence, no_desks_open

    connect(regular.target)
    # an upgrade in progress: a desk starting now is told to wait
    with no_desks_open(regular.target), pytest.raises(DomainError, match="being upgraded"), \
            desk_presence(regular.target):
        pass
    with desk_presence(regular.target):  # and starts once it is done
        pass
    assert run("--db", regular.target, "upgrade", "--backup", tmp_path / "before.sqlite3").exit_code == 0


@pytest.mark.postgres
def test_upgrade_of_a_postgres_store_wants_pg_dump_first_and_no_other_connection(run, postgres_target):
    import psycopg2

    from tests.conftest import setup_desk

    setup_desk(postgres_target)
    close_database()
    first = run("--db", postgres_target, "upgrade")
    assert first.exit_code == 1 and "pg_dump" in first.output
    other = psycopg2.connect(postgres_target)
    try:
        busy = run("--db", postgres_target, "upgrade", "--backed-up")
        assert busy.exit_code == 1 and "other connection" in busy.output
    finally:
        other.close()
    done = run("--db", postgres_target, "upgrade", "--backed-up")
    assert done.exit_code == 0 and f"already at version {LATEST}" in done.output
