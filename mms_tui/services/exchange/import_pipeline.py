"""The fork pipeline of a member import: a big first load on two cores is read, cleaned and placed by a forked
copy of the run while this process writes what it decides, in the import's transaction.
"""

from __future__ import annotations

import dataclasses
import gc
import multiprocessing
import os
from pathlib import Path
from queue import Empty

from mms_tui.db import indexes_rebuilt_after
from mms_tui.i18n import _
from mms_tui.models import Card, Entry, Member
from mms_tui.services.base.errors import DomainError, InvalidInput
from mms_tui.services.exchange.import_members import MemberImport
from mms_tui.services.exchange.import_report import ImportCounts

#: a first load from a file this big into empty tables builds their indexes once at the end (about 60k rows)
BIG_FILE_BYTES = 4 << 20


class ImportFailed(DomainError):
    """The import's reading process stopped (a bug, or the machine killed it): nothing was imported."""

    code = "import_failed"


def is_big_first_load(path: Path) -> bool:
    """A file this big into tables with no members, cards or entries yet: planned beside the writer in a forked
    reader, with the tables' indexes built once at the end."""
    return (path.stat().st_size >= BIG_FILE_BYTES and not Member.select().exists() and not Card.select().exists()
            and not Entry.select().exists())


def can_fork() -> bool:
    """Two cores and a fork: planning beside the writer pays only then."""
    return (os.cpu_count() or 1) >= 2 and "fork" in multiprocessing.get_all_start_methods()


def run_member_import(run: MemberImport) -> None:
    """Plan and write a member file in the import's transaction (``run.tx``); a big first load on two cores plans
    in a forked reader while this process writes."""
    big_first_load = is_big_first_load(run.sheet.path)
    with indexes_rebuilt_after([Member, Card, Entry] if big_first_load else []):
        if big_first_load and can_fork():
            plan_in_child(run)
        else:
            run.plan_rows()
    run.finish()


def plan_in_child(run: MemberImport) -> None:
    """A big first load on two cores: a forked copy of this run reads, cleans and places the rows while this
    process writes what it decides, in this transaction. Nothing but rows crosses the pipe: the tables
    are empty, so deciding needs no query (the ids were chosen before the fork)."""
    ctx = multiprocessing.get_context("fork")
    # a queue, not a bare pipe: the child's feeder thread sends while the child goes on cleaning, and at most
    # 16 batches wait, so a million rows never pile up in memory when the writing is the slower side
    queue = ctx.Queue(maxsize=16)
    child = ctx.Process(target=_child, args=(run, queue), daemon=True)
    child.start()
    try:
        while True:
            try:
                message = queue.get(timeout=1)
            except Empty:
                if not child.is_alive():
                    raise ImportFailed(_("The import's reading process stopped (exit code {code}); nothing was "
                                         "imported.").format(code=child.exitcode)) from None
                continue
            kind = message[0]
            if kind == "write":
                run.apply(message[1])
            elif kind == "progress":
                if run.progress is not None:
                    run.progress(*message[1:])
            elif kind == "done":
                counts, run.errors, run.opening, encoding = message[1:]
                run.sheet.read_elsewhere(encoding)  # the child read the file: its encoding came back here
                for name, value in dataclasses.asdict(counts).items():  # update_card counted balances here
                    setattr(run.counts, name, getattr(run.counts, name) + value)
                break
            elif kind == "invalid":
                raise InvalidInput(message[1])
            else:  # the child's traceback: its last line says what went wrong
                last = message[1].strip().splitlines()[-1] if message[1].strip() else "?"
                raise ImportFailed(_("The import's reading process failed ({error}); nothing was imported.")
                                   .format(error=last))
    finally:
        child.join(timeout=5)
        if child.is_alive():
            child.kill()


def _child(run: MemberImport, queue: multiprocessing.Queue) -> None:
    def send(message: tuple) -> None:
        queue.put(message)

    run.emit = lambda op: send(("write", op))
    if run.progress is not None and run.relay is not None:
        run.relay.target = lambda done, total: send(("progress", done, total))
    run.counts = ImportCounts()
    gc.disable()  # a short-lived process making a million long-lived objects: collecting them only costs time
    try:
        run.plan_rows()
        send(("done", run.counts, run.errors, run.opening, run.sheet.settled_encoding()))
    except InvalidInput as exc:
        send(("invalid", str(exc)))
    except BaseException:  # a bug: the parent reports it
        import traceback

        send(("crash", traceback.format_exc()))
    finally:
        queue.close()
        queue.join_thread()  # everything sent before the process ends

