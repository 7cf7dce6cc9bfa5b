"""The desk in a browser (``mms serve``): textual-serve starts one ``mms`` desk process per browser tab and relays
its screen to xterm.js over a websocket.

The browser runs the very program a counter PC runs, with the same settings, and staff log in on its own login
screen. textual-serve itself has neither accounts nor TLS: anyone who reaches the port gets that login screen, in
clear text. So it listens on the loopback address unless told otherwise, and anything else belongs behind a VPN
or a TLS reverse proxy (the command says so).
"""

from __future__ import annotations

import errno
import ipaddress
import shlex
import socket
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from mms_tui.i18n import _
from mms_tui.services.base.errors import DomainError

if TYPE_CHECKING:
    from textual_serve.server import Server

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: the page's title in the browser's tab
TITLE = "mms"


class CannotServe(DomainError):
    """The address or port cannot be listened on, or the public URL cannot be used."""

    code = "cannot_serve"


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host`` (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: whatever it resolves to may be reachable from elsewhere


def desk_command(global_arguments: Sequence[str], python: str = sys.executable) -> str:
    """The shell command textual-serve runs for each browser tab: this interpreter's ``mms`` with the global
    options the server was given (the environment, ``MMS_*`` included, is inherited as it is). Quoted for the
    shell textual-serve starts it through, so a path with spaces or quotes stays one argument."""
    return shlex.join([python, "-m", "mms_tui", *global_arguments])


def public_url_for(host: str, port: int, public_url: str | None) -> str:
    """What the browser is told to connect back to: ``public_url`` when a proxy is in front, else this address.
    A wildcard address (``0.0.0.0``, ``::``) names no machine a browser can reach, so it needs ``public_url``."""
    if public_url:
        url = public_url.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CannotServe(_("--public-url must be an http:// or https:// address, not {url!r}.").format(
                url=public_url))
        return url
    bare = host.strip("[]")
    try:
        if ipaddress.ip_address(bare).is_unspecified:
            raise CannotServe(_("--host {host} listens on every address: give --public-url with the address "
                                "browsers use (e.g. http://10.8.0.1:{port}).").format(host=host, port=port))
    except ValueError:
        pass  # a name
    name = f"[{bare}]" if ":" in bare else bare
    return f"http://{name}:{port}"


def check_address(host: str, port: int) -> None:
    """Bind ``host:port`` once and let go, so a port in use, a privileged port or an unknown address is one clear
    sentence before anything starts (textual-serve would log a traceback instead)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise CannotServe(_("Cannot listen on {host}: no such address on this machine.").format(host=host)) from None
    family, kind, proto, _name, address = infos[0]
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: TIME_WAIT is no reason
            probe.bind(address)
    except OSError as exc:
        raise CannotServe(listen_failure(host, port, exc)) from None


def listen_failure(host: str, port: int, exc: OSError) -> str:
    """One sentence for a failure to listen on ``host:port``."""
    if exc.errno == errno.EADDRINUSE:
        return _("Port {port} on {host} is in use already; choose another with --port.").format(port=port, host=host)
    if exc.errno == errno.EACCES:
        return _("Not allowed to listen on port {port}; choose a port above 1023 with --port.").format(port=port)
    if exc.errno == errno.EADDRNOTAVAIL:
        return _("Cannot listen on {host}: no such address on this machine.").format(host=host)
    return _("Cannot listen on {host}:{port}: {error}").format(host=host, port=port, error=exc.strerror or exc)


def desk_server(command: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                public_url: str | None = None) -> Server:
    """The textual-serve server for ``command`` on ``host:port`` (nothing listens until :func:`serve`)."""
    from textual_serve.server import Server

    return Server(command, host=host, port=port, title=TITLE, public_url=public_url_for(host, port, public_url))


def serve(server: Server) -> None:
    """Serve until Ctrl+C or SIGTERM. The port was checked, but another program may take it in between."""
    try:
        server.serve()
    except OSError as exc:
        raise CannotServe(listen_failure(server.host, server.port, exc)) from None
