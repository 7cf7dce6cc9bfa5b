"""One HTTP exchange with an outside provider (SMS, WeChat, the payment providers), its failures sorted by what
they mean for the caller: whether the provider can have acted on the request.

* :class:`NotSent` — nothing whole reached the provider (refused, no route, DNS, TLS, a time-out while connecting
  or writing): trying again is safe.
* :class:`OutcomeUnknown` — the request was out and no whole answer came back (a time-out waiting, a dropped
  connection, a body cut short): the provider may have acted; only asking it again tells.
* :class:`Unwritable` / :class:`BadAddress` — the request could not even be made (a header that is not Latin-1,
  an address that is no URL): a setting to fix.

Each channel words these for its own operator (a message "may have gone out", a payment "may have been taken").
The URL (it may carry a token) never appears in what is raised.
"""

from __future__ import annotations

import http.client
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from mms_tui.i18n import _


class HttpFailure(Exception):
    """A failed exchange; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotSent(HttpFailure):
    """The provider never had a whole request."""


class OutcomeUnknown(HttpFailure):
    """The request was out; no whole answer came back."""


class Unwritable(HttpFailure):
    """The request could not be written (nothing was sent)."""


class BadAddress(HttpFailure):
    """The configured address is not a URL."""


@dataclass(frozen=True)
class HttpAnswer:
    """What the provider answered: its HTTP status and body, whatever the status."""

    status: int
    body: bytes

    def json(self) -> object | None:
        """The body as JSON, or None when it is not JSON (a proxy's HTML error page, an empty body)."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect comes back as the answer it is: urllib would follow a 302 of a POST with a GET that drops the
    body — a request the provider never saw, counted as made."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_KeepRedirects)


def exchange(method: str, url: str, *, body: bytes | None = None, headers: Mapping[str, str] | None = None,
             timeout: float, tls: ssl.SSLContext | None = None) -> HttpAnswer:
    """One request and its answer (any status). urllib wraps in ``URLError`` whatever fails while connecting or
    writing the request → :class:`NotSent`; what fails after the request was written escapes from
    ``getresponse``/``read`` unwrapped → :class:`OutcomeUnknown`. ``tls``: a context of our own (a client
    certificate) for an https address."""
    try:
        request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    except ValueError:
        raise BadAddress(_("the address is not a valid URL")) from None
    opener = _opener if tls is None else urllib.request.build_opener(
        _KeepRedirects, urllib.request.HTTPSHandler(context=tls))
    try:
        response = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as answer:  # a status of 3xx, 4xx or 5xx: an answer all the same
        response = answer
    except urllib.error.URLError as exc:
        raise NotSent(network_reason(exc.reason)) from None
    except ValueError as exc:  # a header that is not Latin-1, a host http.client refuses: nothing was sent
        raise Unwritable(type(exc).__name__) from None
    except (OSError, http.client.HTTPException) as exc:
        raise OutcomeUnknown(network_reason(exc)) from None
    try:
        status = response.getcode() or 0
        data = response.read() if response.fp is not None else b""
    except (OSError, http.client.HTTPException) as exc:
        raise OutcomeUnknown(network_reason(exc)) from None
    finally:
        response.close()
    return HttpAnswer(status, data)


def network_reason(error: object) -> str:
    """A network error in a few words: 'timed out', '[Errno 111] Connection refused'…"""
    if isinstance(error, TimeoutError):
        return _("timed out")
    if isinstance(error, http.client.RemoteDisconnected):
        return _("the connection was closed without an answer")
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:160]
