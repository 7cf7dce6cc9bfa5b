"""``mms doctor``: one look at a deployment — what is wrong, and how to put it right.

Each check gives a :class:`Finding`: its name, whether all is well, what it saw and (when not) the fix, in a line an
administrator can act on. The checks: the configuration files read; the database reachable and at the current
schema; the database file's and its folder's modes (private, or shared through the ``group`` setting); free disk
beside the database; the size of the write-ahead log; the age of the last backup in ``backup_dir``; every reader,
scanner, printer and customer display configured reachable; the store's time zone; the scheduled jobs' last runs;
the message worker (arrives with member messages). ``mms doctor`` exits 0 only when every finding is well.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from mms_tui import clock
from mms_tui.db import DatabaseError, database_fault, is_url
from mms_tui.i18n import _
from mms_tui.services.base.errors import DomainError
from mms_tui.settings import Settings

UTC = dt.UTC

#: the least free room beside the database, besides twice the database's own size (a backup, a migration)
MIN_FREE_BYTES = 256 * 1024 * 1024
#: a write-ahead log larger than this means checkpoints are not keeping up (a reader that never lets go)
WAL_LIMIT_BYTES = 128 * 1024 * 1024
#: a shop backs up daily: a newest backup older than this is a backup job that stopped
BACKUP_LATE_AFTER = dt.timedelta(hours=26)


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


def _group_name(gid: int) -> str:
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def check_config(settings: Settings) -> Finding:
    files = ", ".join(settings.config_files) or _("none (defaults, environment and options only)")
    return Finding(_("configuration"), True, _("read: {files}").format(files=files))


def check_database(settings: Settings) -> Finding:
    from mms_tui.models.migrations import LATEST
    from mms_tui.services.ops.setup import open_store

    try:
        open_store(settings.database)
    except (DomainError, DatabaseError) as exc:
        text = str(exc)
        fix = _("run 'mms upgrade'") if "mms upgrade" in text else _(
            "check the db setting (or --db); a new shop runs 'mms init'")
        return Finding(_("database"), False, text, fix)
    except Exception as exc:
        return Finding(_("database"), False, database_fault(exc) or str(exc), _("check the db setting (or --db)"))
    from mms_tui.db import describe

    return Finding(_("database"), True, _("{where}, schema {v} (current)").format(where=describe(), v=LATEST))


def check_file_modes(settings: Settings) -> list[Finding]:
    """The database file, its -wal and -shm, and its folder: nobody outside the owner (and the desks' group)."""
    if is_url(settings.database):
        return []
    path = Path(settings.database).expanduser()
    findings = []
    wanted_gid = None
    if settings.group:
        from mms_tui.services.base.files import shared_gid

        try:
            wanted_gid = shared_gid(settings.group)
        except DomainError as exc:
            return [Finding(_("file modes"), False, str(exc), _("create the group or correct the group setting"))]
    problems: list[str] = []
    fixes: list[str] = []
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            info = os.stat(file)
        except FileNotFoundError:
            continue
        except OSError as exc:
            problems.append(f"{file}: {exc.strerror}")
            continue
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o007:
            problems.append(_("{file} is open to every account on the machine ({mode:o})").format(file=file, mode=mode))
            fixes.append(f"chmod o-rwx {file}")
        if wanted_gid is not None and (info.st_gid != wanted_gid or mode & 0o060 != 0o060):
            problems.append(_("{file} is not shared with the group {group} ({mode:o}, group {has})").format(
                file=file, group=settings.group, mode=mode, has=_group_name(info.st_gid)))
            fixes.append(f"chgrp {settings.group} {file} && chmod 660 {file}")
    folder = path.parent
    mode = _mode(folder)
    if mode is not None:
        if mode & 0o002:
            problems.append(_("the folder {folder} can be written by every account ({mode:o})").format(
                folder=folder, mode=mode))
            fixes.append(f"chmod o-w {folder}")
        if wanted_gid is not None and (os.stat(folder).st_gid != wanted_gid or mode & 0o2070 != 0o2070):
            problems.append(_("the folder {folder} is not shared with the group {group} ({mode:o})").format(
                folder=folder, group=settings.group, mode=mode))
            fixes.append(f"chgrp {settings.group} {folder} && chmod 2770 {folder}")
    if problems:
        return [Finding(_("file modes"), False, "; ".join(problems), "; ".join(fixes))]
    shared = _(", shared with the group {group}").format(group=settings.group) if settings.group else ""
    findings.append(Finding(_("file modes"), True, _("the database is private to its owner{shared}").format(
        shared=shared)))
    return findings


def check_disk(settings: Settings, min_free: int = MIN_FREE_BYTES) -> Finding:
    if is_url(settings.database):
        return Finding(_("free disk"), True, _("the database is on a server: its disk is the server's to watch"))
    path = Path(settings.database).expanduser()
    try:
        size = path.stat().st_size
        free = shutil.disk_usage(path.parent).free
    except OSError as exc:
        return Finding(_("free disk"), False, str(exc.strerror or exc), _("check the db setting"))
    needed = min_free + 2 * size
    detail = _("{free} MB free beside the database ({size} MB)").format(free=free // 2**20, size=size // 2**20)
    if free < needed:
        return Finding(_("free disk"), False, detail, _("free at least {n} MB on {folder}: a save, a backup or an "
                                                        "upgrade needs room").format(n=needed // 2**20,
                                                                                     folder=path.parent))
    return Finding(_("free disk"), True, detail)


def check_wal(settings: Settings, limit: int = WAL_LIMIT_BYTES) -> Finding:
    if is_url(settings.database):
        return Finding(_("write-ahead log"), True, _("PostgreSQL keeps its own"))
    wal = Path(f"{Path(settings.database).expanduser()}-wal")
    try:
        size = wal.stat().st_size
    except FileNotFoundError:
        size = 0
    except OSError as exc:
        return Finding(_("write-ahead log"), False, str(exc.strerror or exc), _("check the file's owner and mode"))
    detail = _("{n} MB").format(n=size // 2**20)
    if size > limit:
        return Finding(_("write-ahead log"), False, detail, _(
            "a long-running reader keeps SQLite from folding the log back: close long reports and exports, restart "
            "desks left open for days; it shrinks at the next checkpoint"))
    return Finding(_("write-ahead log"), True, detail)


def check_backups(settings: Settings, now: dt.datetime | None = None) -> Finding:
    from mms_tui.services.ops.backup import dated_backups

    name = _("last backup")
    if not settings.backup_dir:
        return Finding(name, False, _("no backup folder is set"), _(
            "set backup_dir in /etc/mms/config.toml and schedule 'mms backup --keep 14' (docs/DEPLOY.md)"))
    folder = Path(settings.backup_dir).expanduser()
    if not folder.is_dir():
        return Finding(name, False, _("the backup folder {folder} does not exist").format(folder=folder),
                       f"mkdir -m 700 -p {folder}")
    if is_url(settings.database):  # pg_dump's files: any plain file there
        files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    else:
        files = dated_backups(folder)
    if not files:
        return Finding(name, False, _("no backup in {folder}").format(folder=folder), _(
            "schedule the backup job (docs/DEPLOY.md), or run 'mms backup' now"))
    newest = max(files, key=_made_at)
    now = now or clock.utc_now()
    age = now - _made_at(newest)
    from mms_tui.services.ops.jobs import describe_age

    detail = _("{file}, {age}").format(file=newest, age=describe_age(age))
    mode = _mode(folder) or 0
    if mode & 0o007 or (_mode(newest) or 0) & 0o007:
        return Finding(name, False, _("{detail}; the backups can be read by every account").format(detail=detail),
                       f"chmod o-rwx {folder} {folder}/*")
    if age > BACKUP_LATE_AFTER:
        return Finding(name, False, detail, _("the backup job has stopped: see 'systemctl status mms-backup.timer' "
                                              "or the crontab, then run 'mms backup'"))
    return Finding(name, True, detail)


def _made_at(path: Path) -> dt.datetime:
    """When a backup was made: the moment in a dated backup's name (the store's time, by the product's one clock, as
    ``mms backup`` wrote it), else the file's modification time."""
    from mms_tui.services.ops.backup import DATED_NAME

    if DATED_NAME.match(path.name):
        with contextlib.suppress(ValueError):
            local = dt.datetime.strptime(path.name[4:19], "%Y%m%d-%H%M%S")
            return clock.to_utc(local).replace(tzinfo=UTC)
    return dt.datetime.fromtimestamp(path.stat().st_mtime, UTC)


def check_devices(settings: Settings, timeout: float = 2.0) -> list[Finding]:
    import serial

    from mms_tui.devices.reader import parse_serial

    findings = []
    for label, url, spec in ((_("card reader"), settings.card_reader, settings.reader_serial),
                             (_("scanner"), settings.scanner, settings.scanner_serial),
                             (_("printer"), settings.printer, settings.printer_serial),
                             (_("customer display"), settings.display, settings.display_serial)):
        if not url:
            continue
        try:
            port = serial.serial_for_url(url, timeout=timeout, write_timeout=timeout, **parse_serial(spec))
            port.close()
        except (serial.SerialException, OSError, ValueError) as exc:
            findings.append(Finding(label, False, f"{url}: {' '.join(str(exc).split())}", _(
                "check the cable and the URL; for a reader on the counter PC, that ser2net runs there and the "
                "port is open (docs/DEPLOY.md)")))
        else:
            findings.append(Finding(label, True, _("{url} answers").format(url=url)))
    return findings


def check_time_zone() -> Finding:
    from mms_tui.services.base.config import get_config

    zone = get_config("time_zone")
    if not zone:
        return Finding(_("time zone"), False, _("the store's time zone is not recorded (the system's, {zone}, is "
                                                "used)").format(zone=clock.zone_name()),
                       _("mms init --time-zone Asia/Shanghai (the store's zone)"))
    return Finding(_("time zone"), True, str(zone))


def check_jobs(now: dt.datetime | None = None) -> list[Finding]:
    from mms_tui.services.ops.jobs import JOBS, describe_age, last_runs

    now = now or clock.utc_now()
    runs = last_runs()
    findings = []
    for job in JOBS:
        name = _("job {command}").format(command=job.command)
        last = runs.get(job.key)
        if last is None:
            findings.append(Finding(name, False, _("has never run"), _(
                "schedule it: the systemd timers in deploy/systemd, or the crontab lines in docs/DEPLOY.md")))
        elif now - last > job.late_after:
            findings.append(Finding(name, False, _("last ran {age}").format(age=describe_age(now - last)), _(
                "it has stopped: see 'systemctl list-timers mms-*' or the crontab, and its log")))
        else:
            findings.append(Finding(name, True, _("last ran {age}").format(age=describe_age(now - last))))
    return findings


#: messages due longer than this mean the worker is not running (it looks every few seconds)
MESSAGES_LATE_AFTER = dt.timedelta(minutes=10)


def check_messages(settings: Settings, now: dt.datetime | None = None) -> list[Finding]:
    """The channels' settings (their secrets never shown), a worker that keeps up, messages whose fate is unknown."""
    from mms_tui.models import Message
    from mms_tui.services.messages.worker import channels_configured, config_problems

    name = _("message worker")
    problems = config_problems(settings.messages)
    if problems:
        return [Finding(_("message channels"), False, "; ".join(problems),
                        _("correct [messages] in the configuration file (docs/DEPLOY.md, section 5)"))]
    channels = channels_configured(settings.messages)
    findings = [Finding(_("message channels"), True, ", ".join(channels) if channels else _(
        "none set up: nothing is sent to members"))]
    local_now = clock.from_utc(now.replace(tzinfo=None)) if now is not None else clock.now()
    late = Message.select().where(Message.state == "queued",
                                  Message.not_before < local_now - MESSAGES_LATE_AFTER).count()
    if late:
        findings.append(Finding(name, False, _("{n} messages have been due for more than 10 minutes").format(n=late),
                                _("start it: systemctl enable --now mms-messages (or the crontab line)")))
    else:
        findings.append(Finding(name, True, _("nothing waiting longer than it should")))
    unknown = Message.select().where(Message.state == "unknown").count()
    if unknown:
        findings.append(Finding(_("messages of unknown fate"), False, _(
            "{n} messages were being sent when a worker stopped").format(n=unknown), _(
            "check with the provider or the member, then mms messages send-again ID for those that did not arrive")))
    return findings


def check_payments(settings: Settings) -> list[Finding]:
    """The payment providers' settings (their keys never shown) and charges a desk left open."""
    from mms_tui.services.payments.charge import config_problems, open_attempts, providers_configured

    problems = config_problems(settings.payments)
    if problems:
        return [Finding(_("payment codes"), False, "; ".join(problems),
                        _("correct [payments] in the configuration file (docs/DEPLOY.md, section 13)"))]
    providers = providers_configured(settings.payments)
    findings = [Finding(_("payment codes"), True, ", ".join(providers) if providers else _(
        "none set up: WeChat Pay and Alipay are recorded, not charged, at the desk"))]
    still = open_attempts()
    if still:
        findings.append(Finding(_("open payments"), False, _("{n} payment code charges were left open by a desk").format(
            n=len(still)), _("run mms payments settle")))
    return findings


def diagnose(settings: Settings, *, min_free: int = MIN_FREE_BYTES, wal_limit: int = WAL_LIMIT_BYTES,
             now: dt.datetime | None = None) -> list[Finding]:
    """Every check, in the order an administrator reads them; what needs the database only when it opened."""
    findings = [check_config(settings), database := check_database(settings)]
    findings += check_file_modes(settings)
    findings.append(check_disk(settings, min_free))
    findings.append(check_wal(settings, wal_limit))
    findings.append(check_backups(settings, now))
    findings += check_devices(settings)
    if database.ok:
        findings.append(check_time_zone())
        findings += check_jobs(now)
        findings += check_messages(settings, now)
        findings += check_payments(settings)
    return findings
