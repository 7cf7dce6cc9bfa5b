#!/usr/bin/env python3
"""A simulated card reader / scanner on a pseudo-terminal, for trying the desk and for installers' rehearsals.

    python scripts/devsim.py --link /tmp/mms-reader            # then: mms --card-reader /tmp/mms-reader demo
    python scripts/devsim.py --link /tmp/mms-reader --play "rdm6300:0A1B2C3D4E x3, noise, decimal:0455884110,
        magstripe:6217001234567890, barcode:]E06901234567892, unplug, rdm6300:01DEADBEEF"

Each step is written to the pty master with ``--interval`` seconds between steps:

* ``rdm6300:HEX10`` — an RDM6300 frame (``xN``: repeated N times, as a tag held on the reader);
* ``decimal:DIGITS10`` / ``line:TEXT`` / ``wiegand:HEX6`` — a line ending in CR LF;
* ``magstripe:PAN`` — a swipe with tracks 1 and 2; ``barcode:TEXT`` — a scan (put an AIM prefix in TEXT if wanted);
* ``noise`` — random bytes; ``unplug`` — close the pty and open a new one behind the same ``--link``.

Without ``--play`` it reads steps from stdin, one per line, so you can swipe by typing.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mms_tui.devices.protocols import rdm6300_frame


def frame(step: str) -> bytes | None:
    kind, _sep, arg = step.partition(":")
    if kind == "rdm6300":
        return rdm6300_frame(arg)
    if kind in ("decimal", "line", "wiegand", "barcode"):
        return arg.encode() + b"\r\n"
    if kind == "magstripe":
        return f"%B{arg}^SIMULATED/CARD^2912101?;{arg}=2912101?\r\n".encode()
    if kind == "noise":
        return bytes(random.randrange(256) for _ in range(random.randint(5, 40))).replace(b"\x02", b"")
    return None


class Port:
    def __init__(self, link: Path | None) -> None:
        self.link = link
        self.open()

    def open(self) -> None:
        self.master, slave = os.openpty()
        self.name = os.ttyname(slave)
        self.slave = slave  # keep the slave open so the line stays up between readers
        if self.link is not None:
            if self.link.is_symlink() or self.link.exists():
                self.link.unlink()
            self.link.symlink_to(self.name)
        print(f"device at {self.link or self.name} ({self.name})", file=sys.stderr, flush=True)

    def unplug(self) -> None:
        os.close(self.master)
        os.close(self.slave)
        time.sleep(1.0)
        self.open()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--link", type=Path, help="a stable path (symlink) to the pty slave")
    parser.add_argument("--play", help="comma-separated steps; stdin when absent")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between steps")
    args = parser.parse_args()
    port = Port(args.link)
    steps = (s.strip() for s in args.play.split(",")) if args.play else (line.strip() for line in sys.stdin)
    try:
        for step in steps:
            if not step:
                continue
            repeat = 1
            if " x" in step:
                step, _sep, times = step.rpartition(" x")
                repeat = int(times)
            if step == "unplug":
                port.unplug()
                continue
            data = frame(step)
            if data is None:
                print(f"unknown step {step!r}", file=sys.stderr)
                continue
            for _ in range(repeat):
                os.write(port.master, data)
                time.sleep(0.1)
            time.sleep(args.interval)
        if not args.play:
            return 0
        time.sleep(args.interval)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
