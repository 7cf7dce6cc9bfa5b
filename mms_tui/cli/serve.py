"""``mms serve``: the front desk in a web browser, through textual-serve (services/ops/serve.py says how)."""

from __future__ import annotations

import click

from mms_tui.cli.common import open_database, settings_of
from mms_tui.db import close_database
from mms_tui.i18n import _
from mms_tui.services.ops.serve import DEFAULT_HOST, DEFAULT_PORT


def global_arguments(ctx: click.Context) -> list[str]:
    """The global options given to this ``mms`` (``--db``, ``--store``, ``--lang``, ``--config``, the devices …),
    as arguments for another ``mms``: every option of the root group that has a value."""
    root = ctx.find_root()
    arguments: list[str] = []
    for param in root.command.params:
        value = root.params.get(param.name) if param.name else None
        if isinstance(param, click.Option) and not param.is_flag and value is not None:
            arguments += [param.opts[0], str(value)]
    return arguments


@click.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Address to listen on. Anything but this machine's own must sit behind a VPN or a TLS reverse "
                   "proxy: the server has no TLS and no login of its own (staff log in on the desk's screen).")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
@click.option("--public-url", metavar="URL",
              help="The address browsers use when a reverse proxy is in front, e.g. https://desk.example.com.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, public_url: str | None) -> None:
    """Serve the front desk to web browsers (textual-serve): each browser tab runs its own desk on this
    database, with the same settings, and staff log in there as at the counter."""
    from mms_tui.services.ops.serve import check_address, desk_command, desk_server, is_loopback
    from mms_tui.services.ops.serve import serve as run_server

    open_database(settings_of(ctx))  # a missing or old database is one line here, not a broken page per tab
    close_database()
    server = desk_server(desk_command(global_arguments(ctx)), host, port, public_url)
    check_address(host, port)
    if not is_loopback(host):
        click.echo(_("Warning: {host} may be reachable from other machines, and this server has no TLS and no login "
                     "of its own: keep it behind a VPN or a TLS reverse proxy.").format(host=host), err=True)
    run_server(server)
