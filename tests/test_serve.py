"""``mms serve``: the desk in a web browser through textual-serve.

The fast tests drive the command with Click's runner and stop it just before it would listen (the textual-serve
server it built is kept and read). The slow one is the real thing: ``mms serve`` as a process, headless Chromium
on its page, a staff login, a member found and checked in by keys typed into xterm.js, and the visit read back
from the database. Locally it skips, saying why, when Chromium or Playwright is missing; with ``CI=true`` it fails.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import mms_tui.services.ops.serve as serve_service
from mms_tui.db import close_database
from mms_tui.services.ops.serve import DEFAULT_HOST, CannotServe, desk_command, desk_server, is_loopback
from tests.conftest import IN_CI, setup_desk

# --- the command, without a browser ---------------------------------------------------------------------------


@pytest.fixture
def served(monkeypatch) -> list:
    """The servers ``mms serve`` built, kept instead of served."""
    servers: list = []
    monkeypatch.setattr(serve_service, "serve", servers.append)
    return servers


def test_serve_has_help_naming_its_options(run):
    result = run("serve", "--help")
    assert result.exit_code == 0, result.output
    for option in ("--host", "--port", "--public-url", "default: 127.0.0.1", "default: 8000"):
        assert option in result.output


def test_a_missing_database_is_one_line_before_anything_listens(run, served, tmp_path):
    missing = tmp_path / "nowhere.sqlite3"
    result = run("--db", missing, "serve", "--port", free_port())
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: There is no database at {missing}; run 'mms init' "
                                                  "(or 'mms demo')."]
    assert not missing.exists() and served == []


def test_it_listens_on_this_machine_only_unless_told_and_runs_the_same_desk(run, served, tmp_path):
    config = tmp_path / "shop config.toml"  # spaces and a quote: the command is quoted for the shell
    config.write_text("lock_minutes = 5\n", encoding="utf-8")
    db = tmp_path / "it's the shop.sqlite3"
    setup_desk(str(db))
    close_database()
    result = run("--db", db, "--config", config, "--lang", "zh", "--store", "HQ", "serve")
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.output
    [server] = served
    assert (server.host, server.port, server.public_url) == ("127.0.0.1", 8000, "http://127.0.0.1:8000")
    assert shlex.split(server.command) == [sys.executable, "-m", "mms_tui", "--db", str(db), "--store", "HQ",
                                           "--lang", "zh", "--config", str(config)]


def test_another_address_warns_that_it_needs_a_vpn_or_a_tls_proxy(run, served, sqlite_desk):
    result = run("--db", sqlite_desk.target, "serve", "--host", "0.0.0.0", "--public-url", "https://desk.example.com/")
    assert result.exit_code == 0, result.output
    [warning] = result.output.strip().splitlines()
    assert warning.startswith("Warning: 0.0.0.0 may be reachable from other machines") and "VPN" in warning
    [server] = served
    assert (server.host, server.public_url) == ("0.0.0.0", "https://desk.example.com")


def test_every_address_needs_the_url_browsers_use(run, served, sqlite_desk):
    result = run("--db", sqlite_desk.target, "serve", "--host", "0.0.0.0")
    assert result.exit_code == 1
    assert "--public-url" in result.output and served == []
    bad = run("--db", sqlite_desk.target, "serve", "--public-url", "desk.example.com")
    assert bad.exit_code == 1
    assert "must be an http:// or https:// address" in bad.output and served == []


def test_a_port_in_use_is_one_clear_line(run, served, sqlite_desk):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("--db", sqlite_desk.target, "serve", "--port", port)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: Port {port} on 127.0.0.1 is in use already; choose another with --port."]
    assert served == []


def test_a_port_out_of_range_is_refused_by_the_options(run, served, sqlite_desk):
    result = run("--db", sqlite_desk.target, "serve", "--port", "70000")
    assert result.exit_code == 2 and "70000 is not in the range 1<=x<=65535" in result.output
    assert served == []


def test_the_server_defaults_to_the_loopback_address():
    server = desk_server(desk_command(["--db", "/srv/mms/shop.sqlite3"]))
    assert (server.host, server.port, server.title) == (DEFAULT_HOST, 8000, "mms")
    assert DEFAULT_HOST == "127.0.0.1" and is_loopback(DEFAULT_HOST)
    assert desk_server("mms", "::1", 8100).public_url == "http://[::1]:8100"
    assert [is_loopback(h) for h in ("localhost", "127.0.0.2", "::1", "0.0.0.0", "10.8.0.1", "desk.lan")] == [
        True, True, True, False, False, False]
    with pytest.raises(CannotServe):
        desk_server("mms", "::")


# --- the real thing: headless Chromium on the served desk --------------------------------------------------------

CHROMIUM = os.environ.get("MMS_TEST_CHROMIUM", "/usr/bin/chromium")
#: how long one step in the browser may take before the test gives up (the desk answers in well under a second)
STEP_SECONDS = 30
#: escape sequences in the terminal's output: CSI, OSC, character sets, and the rest
ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b.")


def chromium_and_playwright():
    """The Playwright API and the system's Chromium, or a skip saying which is missing (a failure in CI)."""
    problem = None
    if not os.access(CHROMIUM, os.X_OK):
        problem = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set MMS_TEST_CHROMIUM)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        problem = problem or f"Playwright is not installed (pip install -e '.[test]'): {exc}"
    if problem:
        if IN_CI:
            pytest.fail(f"the browser test is required in CI: {problem}")
        pytest.skip(problem)
    return sync_playwright


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(what: str, ready: Callable[[], object], seconds: float = STEP_SECONDS,
             pause: Callable[[], object] = lambda: time.sleep(0.1)):
    """Poll ``ready`` until it gives something true, or fail naming ``what`` was awaited. With a browser open,
    ``pause`` must be the page's own wait: Playwright's sync API delivers events only while it is called."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = ready()
        if value:
            return value
        pause()
    pytest.fail(f"waited {seconds} s for {what}")


@contextlib.contextmanager
def mms_serve(args: list[str], log: Path) -> Iterator[subprocess.Popen]:
    """``mms … serve …`` as a process in a session of its own, so its whole tree (the shell and the desk each
    browser tab started) is stopped at the end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMS_")}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "mms_tui", *args], stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        yield process
    finally:
        for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(grace)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):  # a desk left behind by a shell that went first
            os.killpg(process.pid, signal.SIGKILL)


def listening(port: int, process: subprocess.Popen, log: Path) -> bool:
    if process.poll() is not None:
        pytest.fail(f"mms serve exited with {process.returncode}:\n{log.read_text(errors='replace')}")
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Screen:
    """What the served desk has drawn since the last :meth:`forget`: the bytes it sent the browser's terminal over
    the websocket, decoded, escape sequences taken out (text drawn in one run stays together)."""

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.text = ""

    def received(self, payload: bytes | str) -> None:
        if isinstance(payload, bytes):  # str frames are textual-serve's own messages, not the screen
            self.text += self.decoder.decode(payload)

    def shows(self, words: str) -> bool:
        return words in ESCAPES.sub("", self.text)

    def forget(self) -> None:
        self.text = ""


def demo_with_a_visit_package(target: str) -> tuple[int, int, str]:
    """A demo database (staff admin, PIN 1234) and one more member, 13987650042, with a 10-visit package and no
    check-in today: (member id, card id, phone)."""
    from mms_tui.models import Staff
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.profile import register_member
    from mms_tui.services.ops.demo import seed_demo
    from mms_tui.services.ops.setup import connect

    connect(target)
    seed_demo(members=12, days=20, seed=5)
    admin = Staff.get(Staff.code == "admin")
    phone = "13987650042"
    member_id = register_member("Browser Guest", phone, admin, "serve-r1").member_id
    card = issue_card(member_id, "V10", admin, "serve-i1", card_no="SERVE0042")
    close_database()
    return member_id, card.card_id, phone


def visits_of(target: str, member_id: int) -> list[tuple[int, str, str]]:
    """(card, status, staff code) of the member's check-ins, read with a connection of the test's own."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(f"file:{target}?mode=ro", uri=True, timeout=10)) as db:
        return db.execute("SELECT v.card_id, v.status, s.code FROM visit v JOIN staff s ON s.id = v.staff_id "
                          "WHERE v.member_id = ?", (member_id,)).fetchall()


@pytest.mark.slow
def test_a_manager_at_home_checks_a_member_in_through_the_browser(tmp_path):
    sync_playwright = chromium_and_playwright()
    target = str(tmp_path / "shop.sqlite3")
    member_id, card_id, phone = demo_with_a_visit_package(target)
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    port = free_port()
    log = tmp_path / "serve.log"
    args = ["--db", target, "--config", str(config), "--lang", "en", "serve", "--port", str(port)]
    with mms_serve(args, log) as process, sync_playwright() as playwright:
        wait_for(f"mms serve to listen on {port}", lambda: listening(port, process, log))
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            screen = Screen()

            def wait_in_browser(what: str, ready: Callable[[], object]) -> None:
                wait_for(what, ready, pause=lambda: page.wait_for_timeout(100))

            page.on("websocket", lambda ws: ws.on("framereceived", screen.received))
            page.goto(f"http://127.0.0.1:{port}/")

            wait_in_browser("the login screen", lambda: screen.shows("Staff login"))
            page.locator(".xterm-helper-textarea").focus()  # where xterm.js takes the keyboard
            screen.forget()
            page.keyboard.type("admin", delay=60)  # a person's pace: not a keyboard-wedge card reader's burst
            page.keyboard.press("Enter")
            page.keyboard.type("1234", delay=60)
            page.keyboard.press("Enter")
            wait_in_browser("the desk after the login", lambda: screen.shows("Swipe a card"))

            screen.forget()
            page.keyboard.type(phone, delay=60)
            page.keyboard.press("Enter")
            wait_in_browser("the member's screen", lambda: screen.shows("Browser Guest") and screen.shows("Check in"))
            assert visits_of(target, member_id) == []

            screen.forget()
            page.keyboard.press("F2")
            wait_in_browser("the check-in in the database", lambda: visits_of(target, member_id))
            wait_in_browser("the check-in on the screen", lambda: screen.shows("Checked in"))
        finally:
            browser.close()
    assert visits_of(target, member_id) == [(card_id, "ok", "admin")]
