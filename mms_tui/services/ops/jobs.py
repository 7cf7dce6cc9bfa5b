"""The scheduled jobs a shop runs (docs/DEPLOY.md ships them as systemd timers and crontab lines), and when each
last finished: each job notes its run in the database it acted on, so that ``mms doctor`` can say when one has
stopped running — on any machine, whatever schedules it."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass

from mms_tui import clock
from mms_tui.db import write_transaction
from mms_tui.i18n import _
from mms_tui.services.base.config import get_config, set_config

UTC = dt.UTC


@dataclass(frozen=True)
class Job:
    key: str
    command: str
    #: how long after its last run it counts as stopped (daily jobs: two days and a little)
    late_after: dt.timedelta


#: the jobs mms doctor expects to run (backups are looked for in the backup folder itself)
JOBS = (
    Job("points_expire", "mms points expire", dt.timedelta(hours=50)),
    Job("tiers_review", "mms tiers review", dt.timedelta(hours=50)),
    Job("check", "mms check --job", dt.timedelta(hours=50)),
)


def record_run(key: str) -> None:
    """Note that the job ``key`` has just finished. A failure to note it (a read-only copy) changes nothing else."""
    with contextlib.suppress(Exception), write_transaction():
        runs = dict(get_config("job_runs") or {})
        runs[key] = clock.utc_now().isoformat(timespec="seconds")
        set_config("job_runs", runs)


def last_runs() -> dict[str, dt.datetime]:
    """When each job last finished (UTC), those that ever did."""
    found: dict[str, dt.datetime] = {}
    for key, text in (get_config("job_runs") or {}).items():
        with contextlib.suppress(TypeError, ValueError):
            found[key] = dt.datetime.fromisoformat(text)
    return found


def describe_age(age: dt.timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    if hours < 1:
        return _("{n} minutes ago").format(n=max(0, int(age.total_seconds() // 60)))
    if hours < 48:
        return _("{n} hours ago").format(n=hours)
    return _("{n} days ago").format(n=hours // 24)
