"""The README's first two commands work as written on a fresh machine (#18): the first, run in a copy of the
checkout with a virtualenv made from nothing, builds the demo and opens the desk; CI runs the second."""

from __future__ import annotations

import fcntl
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> tuple[str, str]:
    """The README's first code block: the command that tries it and the one that runs the tests (comments off)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block and text.index("```sh") < text.index("\n## "), "the README must open with its commands"
    lines = [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert len(lines) == 2, lines
    return lines[0], lines[1]


def test_the_readme_opens_with_two_commands_that_make_their_own_virtualenv():
    try_it, run_tests = readme_commands()
    for command in (try_it, run_tests):
        assert command.startswith("python3 -m venv .venv && .venv/bin/pip install")  # no system pip: PEP 668
    assert try_it.endswith(".venv/bin/mms demo")
    assert "'.[test]'" in run_tests and "pytest" in run_tests


def test_ci_runs_the_readmes_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "# run the tests" in ci and "README.md" in ci  # .ci/run takes the command from the README itself


def _copy_of_the_checkout(to: Path) -> Path:
    ignored = shutil.ignore_patterns(".git", ".venv", "venv", "build", "*.egg-info", "__pycache__", ".pytest_cache",
                                     ".ruff_cache", "__snapshots__")
    shutil.copytree(ROOT, to, ignore=ignored, symlinks=True)
    return to


def _strip(screen: bytes) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]|\x1b[()][0-9A-Za-z]|\x1b[=>]", "", screen.decode("utf-8", "replace"))


@pytest.mark.slow
def test_the_first_command_builds_the_demo_and_opens_the_desk_from_a_clean_virtualenv(tmp_path):
    try_it, _ = readme_commands()
    checkout = _copy_of_the_checkout(tmp_path / "mms")
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "TERM": "xterm-256color", "LANG": "C.UTF-8",
           "MMS_LANG": "en", "MMS_SYSTEM_CONFIG": str(tmp_path / "none.toml")}
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CERT", "PIP_DEFAULT_TIMEOUT",
                 "PIP_CONFIG_FILE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy"):
        if name in os.environ:  # how this machine reaches its package index: the command itself is unchanged
            env[name] = os.environ[name]
    controller, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    process = subprocess.Popen(["/bin/sh", "-c", try_it], cwd=checkout, env=env, stdin=terminal, stdout=terminal,
                               stderr=terminal, start_new_session=True, close_fds=True)
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + 600  # pip builds and installs everything first
    try:
        while time.monotonic() < deadline and process.poll() is None:
            ready, _w, _x = select.select([controller], [], [], 1.0)
            if ready:
                try:
                    seen += os.read(controller, 65536)
                except OSError:
                    break
                if "Staff login" in _strip(seen) and "Demo database" in _strip(seen):
                    break  # the desk's login screen, with the demo's hint
        text = _strip(seen)
        assert process.poll() is None, f"the command stopped (exit {process.returncode}):\n{text[-3000:]}"
        assert "Log in as admin, PIN 1234" in text, text[-3000:]
        assert "Staff login" in text and "Demo database" in text and "Traceback" not in text
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        os.close(controller)
    check = subprocess.run([str(checkout / ".venv/bin/mms"), "--db", str(home / ".local/share/mms/demo.sqlite3"),
                            "check"], env=env, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    assert sys.prefix not in str(checkout / ".venv")  # a virtualenv of its own, not the tests'
