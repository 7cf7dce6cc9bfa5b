"""Card readers, scanners and printers: ``mms devices watch`` shows what a reader sends, for installing one."""

from __future__ import annotations

import click

from mms_tui.devices.protocols import BYTE_ORDERS, PROTOCOLS
from mms_tui.i18n import _


@click.group("devices")
def devices_group() -> None:
    """Card readers, scanners and printers: tools for setting them up."""


@devices_group.command()
@click.argument("url")
@click.option("--protocol", "-p", type=click.Choice(sorted(PROTOCOLS)), default="line", show_default=True,
              help="How the device frames its reads.")
@click.option("--serial", "serial_spec", default="9600 8N1", show_default=True,
              help="Serial speed and frame, e.g. '9600 8N1'.")
@click.option("--byte-order", type=click.Choice(BYTE_ORDERS), default="normal", show_default=True,
              help="How the reader prints a UID's bytes: normal (正码) or reversed (反码).")
@click.option("--count", type=int, default=0, help="Stop after this many reads (0: run until Ctrl+C).")
@click.option("--seconds", type=float, default=0, help="Stop after this long (0: run until Ctrl+C).")
def watch(url: str, protocol: str, serial_spec: str, byte_order: str, count: int, seconds: float) -> None:
    """Print decoded reads and frame errors live, for installing a reader (e.g. mms devices watch
    /dev/ttyUSB0 -p rdm6300, or rfc2217://counter-pc:4000)."""
    import queue
    import time

    from mms_tui.devices.reader import SerialReader, parse_serial

    try:
        settings = parse_serial(serial_spec)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--serial") from None
    events: queue.Queue = queue.Queue()
    reader = SerialReader(url, protocol, lambda r: events.put(("read", r)), lambda s: events.put(("status", s)),
                          byte_order=byte_order, **settings)
    click.echo(_("Watching {url} ({protocol}); Ctrl+C stops.").format(url=url, protocol=protocol), err=True)
    reader.start()
    reads, errors, last_state = 0, 0, ""
    deadline = time.monotonic() + seconds if seconds else None
    try:
        while not (count and reads >= count):
            timeout = 0.5 if deadline is None else max(0.0, deadline - time.monotonic())
            if deadline is not None and timeout == 0:
                break
            try:
                kind, item = events.get(timeout=min(timeout, 0.5))
            except queue.Empty:
                continue
            stamp = time.strftime("%H:%M:%S")
            if kind == "read":
                reads += 1
                extra = f" {item.symbology}" if item.symbology else ""
                click.echo(f"{stamp} {item.kind} {item.value}{extra}")
            elif item.errors > errors:
                errors = item.errors
                click.echo(f"{stamp} frame error: {item.last_error}", err=True)
            elif item.state != last_state:
                last_state = item.state
                problem = item.last_error if item.state == "disconnected" else ""
                click.echo(f"{stamp} {item.state}" + (f": {problem}" if problem else ""), err=True)
    except KeyboardInterrupt:
        pass
    finally:
        reader.stop()
    click.echo(_("{reads} reads, {errors} frame errors.").format(reads=reads, errors=reader.parser.errors), err=True)
