"""docs/DEPLOY.md works as written (#18): its files and commands, taken from the guide itself and run with the paths
and names moved into a temporary folder — the configuration files, the systemd units and crontab lines of the
scheduled jobs, the PostgreSQL roles and pg_dump/pg_restore, ser2net sharing a reader as an rfc2217:// URL, and the
desk's SSH login that opens the desk and nothing else."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from mms_tui.db import close_database
from mms_tui.settings import load_settings
from tests.conftest import IN_CI, PG_SERVER, setup_desk

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "DEPLOY.md").read_text(encoding="utf-8")
MMS = str(Path(sys.executable).with_name("mms"))


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE, re.S)


def heredoc(target: str) -> str:
    """The text the guide writes into ``target`` with ``sudo tee target <<'EOF'``."""
    found = re.search(rf"tee {re.escape(target)} >/dev/null <<'EOF'\n(.*?)\nEOF\n", GUIDE, re.S)
    assert found, f"the guide writes no {target}"
    return found.group(1) + "\n"


def needs(program: str) -> str:
    path = shutil.which(program) or (f"/usr/sbin/{program}" if os.path.exists(f"/usr/sbin/{program}") else None)
    if path is None:
        if IN_CI:
            pytest.fail(f"{program} is required in CI (.ci/run installs it)")
        pytest.skip(f"{program} is not installed")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- configuration files -------------------------------------------------------------------------------------------


def test_the_guides_configuration_files_are_valid_settings(tmp_path):
    system = tmp_path / "config.toml"
    system.write_text(heredoc("/etc/mms/config.toml"), encoding="utf-8")
    desk = tmp_path / "desk-front1.toml"
    desk.write_text(heredoc("/etc/mms/desks/desk-front1.toml"), encoding="utf-8")
    settings = load_settings(env={"MMS_SYSTEM_CONFIG": str(system)}, config_path=desk)
    assert settings.db == "/srv/mms/shop.sqlite3" and settings.group == "mms"
    assert settings.backup_dir == "/var/backups/mms" and settings.lang == "zh"
    assert settings.card_reader.startswith("rfc2217://") and settings.reader_protocol == "rdm6300"
    assert settings.config_files == (str(system), str(desk))


# --- scheduled jobs ------------------------------------------------------------------------------------------------


def _units() -> list[Path]:
    return sorted((ROOT / "deploy" / "systemd").glob("mms-*"))


def test_the_systemd_units_verify(tmp_path):
    systemd_analyze = needs("systemd-analyze")
    for unit in _units():
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/mms/bin/mms", MMS))
    names = [str(tmp_path / u.name) for u in _units()]
    result = subprocess.run([systemd_analyze, "verify", "--man=no", *names], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    timers = {u.stem for u in _units() if u.suffix == ".timer"}
    services = {u.stem for u in _units() if u.suffix == ".service"}
    assert timers == {"mms-backup", "mms-points-expire", "mms-tiers-review", "mms-check", "mms-payments"}
    assert timers <= services and "mms-alert@" in services and "mms-messages" in services
    for name in timers:
        unit = configparser.ConfigParser(strict=False, interpolation=None)
        unit.read(ROOT / "deploy" / "systemd" / f"{name}.service")
        assert unit["Unit"]["OnFailure"] == "mms-alert@%n.service"  # a failure reaches someone
        assert f"enable --now {name}.timer" in GUIDE or f"{name}.timer" in GUIDE


def _shop(tmp_path: Path) -> dict[str, str]:
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.profile import register_member

    target = str(tmp_path / "shop.sqlite3")
    desk = setup_desk(target)
    member = register_member("张三", "13800138000", desk.cashier, "r1").member_id
    issue_card(member, "SV", desk.cashier, "i1", card_no="00012345")
    close_database()
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    return {**os.environ, "MMS_DB": target, "MMS_BACKUP_DIR": str(backups), "MMS_LANG": "en",
            "MMS_CONFIG": str(tmp_path / "absent.toml")}


def test_each_scheduled_job_as_its_unit_runs_it_then_doctor_is_content(tmp_path):
    env = _shop(tmp_path)
    for unit in _units():
        if unit.suffix != ".service" or "@" in unit.name:
            continue
        text = unit.read_text()
        starts = [shlex.split(line.removeprefix("ExecStart=").replace("/opt/mms/bin/mms", MMS))
                  for line in text.splitlines() if line.startswith("ExecStart=")]
        assert starts, unit.name
        for command in starts:  # a oneshot service runs each in turn
            if "Type=simple" in text:  # a service that runs until stopped: one round of it
                assert unit.name == "mms-messages.service" and command[-2:] == ["messages", "run"]
                command.append("--once")
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, (unit.name, result.stdout, result.stderr)
    doctor = subprocess.run([MMS, "doctor"], env=env, capture_output=True, text=True, timeout=300)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert len(list(Path(env["MMS_BACKUP_DIR"]).glob("mms-*.sqlite3.gz"))) == 1


def _cron_lines() -> list[list[str]]:
    text = (ROOT / "deploy" / "crontab").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#") and "=" not in line.split()[0]]
    return [line.split(None, 6) for line in lines]


def test_the_crontab_lines_run_quietly_and_print_only_a_failure(tmp_path):
    env = _shop(tmp_path)
    job = str(ROOT / "deploy" / "mms-job")
    lines = _cron_lines()
    assert {line[5] for line in lines} == {"mms"} and len(lines) == 6
    assert "sudo cp deploy/crontab /etc/cron.d/mms" in GUIDE
    for fields in lines:
        assert len(fields[:5]) == 5  # minute hour day month weekday, then the account
        command = fields[6].replace("/usr/local/bin/mms-job", job).replace("/opt/mms/bin/mms", MMS)
        result = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0 and result.stdout == "" and result.stderr == "", (command, result)
    broken = {**env, "MMS_DB": str(tmp_path / "gone.sqlite3")}
    check = next(f[6] for f in lines if "check" in f[6])
    failed = subprocess.run(["/bin/sh", "-c", check.replace("/usr/local/bin/mms-job", job).replace(
        "/opt/mms/bin/mms", MMS)], env=broken, capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1
    assert "There is no database at" in failed.stdout and "exit status 1:" in failed.stdout  # what cron mails


# --- PostgreSQL ----------------------------------------------------------------------------------------------------


@pytest.fixture
def pg_roles():
    """The guide's roles.sql, run by the server's superuser with unique names; everything dropped afterwards."""
    psql = needs("psql")
    try:
        import psycopg2

        psycopg2.connect(PG_SERVER + "/postgres", connect_timeout=3).close()
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_SERVER}: {exc}")
        pytest.skip(f"no PostgreSQL at {PG_SERVER}: {exc}")
    suffix = uuid.uuid4().hex[:8]
    names = {"owner": f"mms_owner_{suffix}", "desk": f"mms_desk_{suffix}", "db": f"mms_guide_{suffix}"}
    sql, = [b for b in blocks("sql") if "CREATE ROLE" in b]
    sql = (sql.replace("mms_owner", names["owner"]).replace("mms_desk", names["desk"])
           .replace("DATABASE mms", f"DATABASE {names['db']}").replace("\\connect mms", f"\\connect {names['db']}"))
    run = subprocess.run([psql, "-v", "ON_ERROR_STOP=1", "-q", PG_SERVER + "/postgres"], input=sql,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    server = PG_SERVER.split("://", 1)[1].split("@", 1)[1]
    names["owner_url"] = f"postgresql://{names['owner']}:owner-secret@{server}/{names['db']}"
    names["desk_url"] = f"postgresql://{names['desk']}:desk-secret@{server}/{names['db']}"
    yield names
    close_database()
    drop = (f'DROP DATABASE IF EXISTS "{names["db"]}" WITH (FORCE); DROP ROLE IF EXISTS "{names["owner"]}"; '
            f'DROP ROLE IF EXISTS "{names["desk"]}";')
    subprocess.run([psql, "-q", "-c", drop, PG_SERVER + "/postgres"], capture_output=True, timeout=120)


def _mms(*args: str, env: dict | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    base = {**os.environ, "MMS_LANG": "en", "MMS_CONFIG": "/nonexistent/mms.toml", **(env or {})}
    return subprocess.run([MMS, *args], env=base, capture_output=True, text=True, timeout=300, input=input)


def _add_member(url: str, name: str, phone: str, folder: Path) -> subprocess.CompletedProcess:
    sheet = folder / f"{phone}.csv"
    sheet.write_text(f"姓名,手机\n{name},{phone}\n", encoding="utf-8")
    return _mms("--db", url, "import", "members", str(sheet))


@pytest.mark.postgres
def test_postgres_roles_the_owner_sets_up_the_desk_works_and_cannot_change_the_schema(pg_roles, tmp_path):
    import psycopg2

    init = _mms("--db", pg_roles["owner_url"], "init", "--pin-stdin", input="1234\n")
    assert init.returncode == 0, init.stderr
    desk = pg_roles["desk_url"]
    assert _mms("--db", desk, "check").returncode == 0
    added = _add_member(desk, "张三", "13800138000", tmp_path)
    assert added.returncode == 0, added.stdout + added.stderr
    assert "张三" in _mms("--db", desk, "lookup", "13800138000").stdout
    conn = psycopg2.connect(desk.replace(":desk-secret", ""))
    try:
        with conn.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("CREATE TABLE intruder (id int)")
        conn.rollback()
        with conn.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute('DROP TABLE "ledger_entry"')
    finally:
        conn.close()
    upgrade = _mms("--db", desk, "upgrade", "--backed-up")
    assert upgrade.returncode == 0 or "permission" in upgrade.stderr.lower()


@pytest.mark.postgres
def test_pg_dump_and_pg_restore_as_the_guide_writes_them(pg_roles, tmp_path):
    pg_dump, pg_restore = needs("pg_dump"), needs("pg_restore")
    owner = pg_roles["owner_url"]
    assert _mms("--db", owner, "init", "--pin-stdin", input="1234\n").returncode == 0
    assert _add_member(owner, "张三", "13800138000", tmp_path).returncode == 0
    dump_line = next(line for b in blocks("sh") for line in b.splitlines() if line.startswith("pg_dump"))
    restore_line = next(line for b in blocks("sh") for line in b.splitlines() if line.startswith("pg_restore"))
    dump = tmp_path / "shop.dump"
    dump_cmd = [*shlex.split(dump_line.split("--file=")[0]), f"--file={dump}", owner.replace(":owner-secret", "")]
    assert subprocess.run([pg_dump, *dump_cmd[1:]], capture_output=True, timeout=300).returncode == 0
    assert _add_member(owner, "李四", "13912345678", tmp_path).returncode == 0
    restore_cmd = shlex.split(restore_line.replace("FILE.dump", str(dump)).replace(
        "--role=mms_owner", f"--role={pg_roles['owner']}"))
    restore_cmd = [pg_restore, *[a if not a.startswith("--dbname=") else f"--dbname={owner.replace(':owner-secret', '')}"
                                 for a in restore_cmd[1:]]]
    result = subprocess.run(restore_cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert _mms("--db", owner, "check").returncode == 0
    assert "李四" not in _mms("--db", owner, "lookup", "13912345678").stdout  # the dump's moment, exactly
    assert "张三" in _mms("--db", owner, "lookup", "13800138000").stdout


# --- ser2net -------------------------------------------------------------------------------------------------------


@pytest.mark.realclock  # the reader thread waits on threading.Event(timeout), which libfaketime 0.9.10 breaks
def test_a_reader_shared_by_ser2net_as_the_guide_writes_it_reaches_the_desk(tmp_path):
    ser2net = needs("ser2net")
    from mms_tui.devices.protocols import rdm6300_frame
    from mms_tui.devices.reader import SerialReader

    config, = [b for b in blocks("yaml") if "connection:" in b]
    controller, device = os.openpty()
    port = free_port()
    yaml = config.replace("tcp,4001", f"tcp,127.0.0.1,{port}").replace("/dev/ttyUSB0", os.ttyname(device))
    yaml = yaml.replace("tcp,4002", f"tcp,127.0.0.1,{free_port()}").replace("/dev/ttyUSB1", os.ttyname(device))
    (tmp_path / "ser2net.yaml").write_text(yaml)
    daemon = subprocess.Popen([ser2net, "-n", "-d", "-c", str(tmp_path / "ser2net.yaml"), "-P",
                               str(tmp_path / "ser2net.pid")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    reads = []
    reader = None
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(0.5)  # ser2net lets the probe's connection go
        # a pty has no modem lines, so ser2net cannot set DTR and never acknowledges it: the guide's advice for an
        # adapter without them is ?ign_set_control
        url = f"rfc2217://127.0.0.1:{port}?ign_set_control"
        assert "?ign_set_control" in GUIDE
        reader = SerialReader(url, "rdm6300", on_read=reads.append)
        reader.start()
        deadline = time.monotonic() + 20
        while not reads and time.monotonic() < deadline:
            os.write(controller, rdm6300_frame("0A1B2C3D4E"))
            time.sleep(0.5)
        assert reads and reads[0].value, "no card read came through ser2net"
    finally:
        if reader is not None:
            reader.stop()
        daemon.terminate()
        out = daemon.communicate(timeout=10)[0]
        os.close(controller)
        os.close(device)
    assert reads, out


# --- a desk's SSH login ----------------------------------------------------------------------------------------------


def _read_until(fd: int, wanted: str, seconds: float) -> str:
    import select

    seen = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _w, _x = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", seen.decode("utf-8", "replace"))
            if wanted in text:
                return text
    return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", seen.decode("utf-8", "replace"))


@pytest.mark.slow
def test_a_desk_login_opens_the_desk_and_nothing_else():
    """Sections 1–3 for real: the program in a virtualenv of the system's Python, a group, a desk account, the
    shared database, and sshd with the guide's Match block — the login lands on the desk's login screen, and the
    command it asked for, sftp and port forwarding are refused."""
    import fcntl
    import struct
    import tempfile
    import termios

    sshd, ssh, keygen = needs("sshd"), needs("ssh"), needs("ssh-keygen")
    if os.getuid() != 0:
        pytest.skip("making a desk account and running sshd needs root")
    if not os.path.exists("/usr/bin/python3"):
        pytest.skip("no system Python at /usr/bin/python3")
    suffix = uuid.uuid4().hex[:6]
    group, user = f"mmst{suffix}", f"desk-t{suffix}"
    base = Path(tempfile.mkdtemp(prefix="mms-ssh-", dir="/tmp"))
    base.chmod(0o755)
    sshd_process = None
    try:
        subprocess.run(["/usr/bin/python3", "-m", "venv", str(base / "opt")], check=True, timeout=300)
        subprocess.run([str(base / "opt/bin/pip"), "install", "-q", str(ROOT)], check=True, timeout=900,
                       capture_output=True)
        program = str(base / "opt/bin/mms")
        subprocess.run(["groupadd", group], check=True)
        subprocess.run(["useradd", "-m", "-d", str(base / "home"), "-s", "/bin/sh", "-g", group, user], check=True)
        # no password, not locked: without PAM (this test's sshd) a locked account may not log in even with a key
        subprocess.run(["usermod", "-p", "*", user], check=True)
        data = base / "srv"
        data.mkdir()
        shutil.chown(data, "root", group)
        data.chmod(0o2770)
        system = base / "config.toml"
        system.write_text(heredoc("/etc/mms/config.toml").replace("/srv/mms", str(data))
                          .replace('group = "mms"', f'group = "{group}"')
                          .replace("/var/backups/mms", str(base / "backups")).replace('lang = "zh"', 'lang = "en"'))
        system.chmod(0o644)
        desks = base / "desks"
        desks.mkdir()
        (desks / f"{user}.toml").write_text(heredoc("/etc/mms/desks/desk-front1.toml").replace("192.168.1.21",
                                                                                              "127.0.0.1"))
        env = {**os.environ, "MMS_SYSTEM_CONFIG": str(system), "MMS_CONFIG": str(base / "none.toml")}
        init = subprocess.run([program, "init", "--pin-stdin"], input="1234\n", env=env, capture_output=True,
                              text=True, timeout=300)
        assert init.returncode == 0, init.stderr
        database = data / "shop.sqlite3"
        assert stat_mode(database) == 0o660 and database.stat().st_gid == group_id(group)

        keys = base / "keys"
        keys.mkdir()
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(keys / "host")], check=True)
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(keys / "client")], check=True)
        (keys / user).write_text((keys / "client.pub").read_text())
        (keys / user).chmod(0o644)
        port = free_port()
        snippet = heredoc("/etc/ssh/sshd_config.d/mms.conf").replace(
            "/opt/mms/bin/mms", f"env MMS_SYSTEM_CONFIG={system} {program}").replace("/etc/mms/desks", str(desks))
        config = base / "sshd_config"
        config.write_text(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {keys / 'host'}\nPidFile {base / 'pid'}\n"
                          f"UsePAM no\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                          f"AuthorizedKeysFile {keys}/%u\nSubsystem sftp internal-sftp\n" + snippet)
        Path("/run/sshd").mkdir(exist_ok=True)
        checked = subprocess.run([sshd, "-t", "-f", str(config)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        sshd_process = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
        for _attempt in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        client = [ssh, "-i", str(keys / "client"), "-p", str(port), "-o", "StrictHostKeyChecking=no",
                  "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]

        controller, terminal = os.openpty()
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        login = subprocess.Popen([*client, "-tt", f"{user}@127.0.0.1", "id; cat /etc/passwd"], stdin=terminal,
                                 stdout=terminal, stderr=terminal, start_new_session=True)
        os.close(terminal)
        try:
            screen = _read_until(controller, "Staff login", 60)
        finally:
            login.kill()
            login.wait()
            os.close(controller)
        if "Staff login" not in screen:
            sshd_process.terminate()
            pytest.fail(screen[-2000:] + sshd_process.communicate(timeout=10)[1].decode()[-3000:])
        assert "uid=" not in screen and "root:x:0" not in screen  # the command asked for never ran

        plain = subprocess.run([*client, "-T", f"{user}@127.0.0.1", "id"], capture_output=True, text=True,
                               timeout=60, stdin=subprocess.DEVNULL)
        assert plain.returncode == 1 and "uid=" not in plain.stdout and "needs a terminal" in plain.stderr, plain
        sftp = subprocess.run([needs("sftp"), "-b", "-", "-i", str(keys / "client"), "-P", str(port),
                               "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                               "-o", "BatchMode=yes", f"{user}@127.0.0.1"], input="get /etc/passwd\n",
                              capture_output=True, text=True, timeout=60)
        assert sftp.returncode != 0
        # a tunnel back into the counter PC's network is refused by the server (DisableForwarding)
        forward = subprocess.run([*client, "-N", "-o", "ExitOnForwardFailure=yes", "-R", f"{free_port()}:127.0.0.1:"
                                  f"{port}", f"{user}@127.0.0.1"], capture_output=True, text=True, timeout=60,
                                 stdin=subprocess.DEVNULL)
        assert forward.returncode != 0 and "forwarding failed" in forward.stderr.lower(), forward
    finally:
        if sshd_process is not None:
            sshd_process.terminate()
            sshd_process.wait(10)
        subprocess.run(["pkill", "-u", user], capture_output=True)
        subprocess.run(["userdel", user], capture_output=True)
        subprocess.run(["groupdel", group], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777


def group_id(name: str) -> int:
    import grp

    return grp.getgrnam(name).gr_gid


def test_the_guides_messages_file_is_valid_settings_for_every_channel(tmp_path):
    from mms_tui.services.messages.worker import channels_configured, config_problems

    path = tmp_path / "messages.toml"
    path.write_text(heredoc("/etc/mms/messages.toml"), encoding="utf-8")
    settings = load_settings(env={"MMS_SYSTEM_CONFIG": str(tmp_path / "none.toml")}, config_path=path)
    assert channels_configured(settings.messages) == ["wechat", "sms", "email"]
    assert config_problems(settings.messages) == []
    assert "example-secret" not in repr(settings)  # the secrets stay out of anything that prints the settings
