"""WeChat Official Account template messages (服务通知 / 模板消息) to members who follow the account.

Every call needs an access token, which the account must not fetch at will: tokens are limited per day and each
fetch through the classic API may cut short the one other processes hold. So the token is kept in a ``cache`` the
caller owns (the worker keeps one dict for its lifetime) until shortly before it expires, and fetched again only
then or when WeChat says it is no longer valid (40001, 42001, 40014) — and then the message is tried once more.

Standard library only; the HTTP exchange and its sorting of network failures are sms.py's
(:func:`~mms_tui.services.messages.sms.http_exchange`).
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Mapping
from typing import NoReturn

from mms_tui.i18n import N_, _
from mms_tui.services.messages.channel import (
    NotConfigured,
    OutcomeUnknown,
    Outgoing,
    PermanentFailure,
    Sent,
    TemporaryFailure,
)
from mms_tui.services.messages.sms import http_exchange, scrub

DEFAULT_ENDPOINT = "https://api.weixin.qq.com"
#: a token is given up this long before WeChat says it expires: a send that starts just before must not carry a
#: token that dies on the way (WeChat itself renews a stable token 5 minutes before its end)
TOKEN_MARGIN_SECONDS = 300

#: the token is no longer valid (40001 invalid credential, 42001 expired, 40014 invalid access_token)
TOKEN_REJECTED = (40001, 42001, 40014)

_SEND_ERRORS: dict[int, tuple[bool, str]] = {
    -1: (True, N_("WeChat is busy")),
    45009: (True, N_("the account's daily API quota is used up")),
    45011: (True, N_("the account is calling the API too often")),
    43004: (False, N_("the member does not follow the official account")),
    43101: (False, N_("the member refused messages from the official account")),
    40003: (False, N_("the openid is not valid for this official account")),
    40037: (False, N_("the template id is not valid: check the template in the official account")),
    47003: (False, N_("a template field is missing or not valid")),
    48001: (False, N_("the official account has no permission to send template messages")),
}

_TOKEN_ERRORS: dict[int, tuple[bool, str]] = {
    -1: (True, N_("WeChat is busy")),
    45009: (True, N_("the account's daily API quota is used up")),
    45011: (True, N_("the account is asking for tokens too often")),
    40001: (False, N_("WeChat refused the app secret: check app_secret")),
    40125: (False, N_("WeChat refused the app secret: check app_secret")),
    40013: (False, N_("WeChat does not know the app id: check app_id")),
    40164: (False, N_("this computer's IP address is not on the account's IP allowlist (IP白名单)")),
    61004: (False, N_("this computer's IP address is not on the account's IP allowlist (IP白名单)")),
    89503: (False, N_("an administrator of the account must confirm calls from this IP address")),
    89501: (False, N_("an administrator of the account must confirm calls from this IP address")),
}


def check_config(config: Mapping[str, object]) -> list[str]:
    """Every missing or invalid WeChat setting, one sentence each (``mms doctor``, and the worker on start)."""
    problems = [_("WeChat setting {key} is missing.").format(key=key) for key in ("app_id", "app_secret")
                if not isinstance(config.get(key), str) or not str(config.get(key)).strip()]
    endpoint = config.get("endpoint", DEFAULT_ENDPOINT)
    parts = urllib.parse.urlsplit(endpoint) if isinstance(endpoint, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(_("WeChat setting endpoint must be an http:// or https:// address."))
    return problems


def send(config: Mapping[str, object], message: Outgoing, *, cache: dict, timeout: float = 10.0) -> Sent:
    """Send one template message to the openid ``message.to``: Sent(msgid), or a channel failure.

    A rejected token is dropped from ``cache``, a new one fetched and the message tried once more; a second
    rejection of a fresh token is a TemporaryFailure (WeChat's side is confused, and trying later is all we can do).
    """
    problems = check_config(config)
    if problems:
        raise NotConfigured(_("WeChat is not configured: {problems}").format(problems="; ".join(problems)))
    if not message.to.strip():
        raise PermanentFailure(_("The member has no WeChat openid."), code="no-openid")
    if not message.template_code:
        raise NotConfigured(_("WeChat needs a template id for this message."))
    token = _token(config, cache, timeout)
    answer = _send_template(config, token, message, timeout)
    if answer.get("errcode") in TOKEN_REJECTED:
        cache.pop(_slot(config), None)
        token = _token(config, cache, timeout, rejected=token)
        answer = _send_template(config, token, message, timeout)
        if answer.get("errcode") in TOKEN_REJECTED:
            raise TemporaryFailure(_("WeChat refused a freshly fetched access token ({code}).").format(
                code=answer.get("errcode")), code=str(answer.get("errcode")))
    errcode = answer.get("errcode", 0)
    if errcode == 0:
        return Sent(provider_id=str(answer.get("msgid", "")))
    _fail(config, errcode, answer.get("errmsg"), _SEND_ERRORS, token)


def _endpoint(config: Mapping[str, object]) -> str:
    return str(config.get("endpoint", DEFAULT_ENDPOINT)).rstrip("/")


def _slot(config: Mapping[str, object]) -> tuple[str, str, str]:
    """Where the token is kept in the caller's cache: per endpoint and app id (never the secret)."""
    return ("wechat-token", _endpoint(config), str(config["app_id"]).strip())


def _fail(config: Mapping[str, object], errcode: object, errmsg: object, table: Mapping[int, tuple[bool, str]],
          token: str = "") -> NoReturn:
    temporary, reason = table.get(errcode, (None, "")) if isinstance(errcode, int) else (None, "")
    if temporary is None:
        temporary = False
        explained = scrub(errmsg or errcode, [config.get("app_secret"), token])
    else:
        explained = _(reason)
    text = _("WeChat: {reason} ({code}).").format(reason=explained, code=errcode)
    raise (TemporaryFailure if temporary else PermanentFailure)(text, code=str(errcode))


def _json_answer(answer_status: int, data: object, doing: str) -> dict:
    if isinstance(data, dict) and (answer_status < 300 or "errcode" in data):
        return data
    text = _("WeChat answered HTTP {status} while {doing}.").format(status=answer_status, doing=doing)
    if answer_status >= 500 or answer_status == 429:
        raise TemporaryFailure(text, code=str(answer_status))
    if 200 <= answer_status < 300:
        raise OutcomeUnknown(text, code=str(answer_status))
    raise PermanentFailure(text, code=str(answer_status))


def _token(config: Mapping[str, object], cache: dict, timeout: float, *, rejected: str | None = None) -> str:
    """The account's access token: the cached one while it lasts, else a fresh one.

    Fetched with the stable-token API (POST /cgi-bin/stable_token) that WeChat's current documentation
    recommends instead of GET /cgi-bin/token: in its normal mode a call within a token's lifetime returns the same
    token instead of issuing a new one, so several workers (or a restart) do not cut each other's tokens short,
    it is kept apart from tokens other software fetches the classic way, and the secret travels in the body rather
    than in a URL that proxies log. When the token WeChat just rejected comes back again, it is renewed with
    ``force_refresh`` (which WeChat limits to 20 a day).
    """
    held = cache.get(_slot(config))
    if held is not None and held[0] != rejected and held[1] > time.monotonic():
        return held[0]
    token, expires_in = _fetch_token(config, timeout, force=False)
    if token == rejected:
        token, expires_in = _fetch_token(config, timeout, force=True)
    lifetime = max(expires_in - TOKEN_MARGIN_SECONDS, expires_in // 2)
    cache[_slot(config)] = (token, time.monotonic() + lifetime)
    return token


def _fetch_token(config: Mapping[str, object], timeout: float, *, force: bool) -> tuple[str, int]:
    body = json.dumps({"grant_type": "client_credential", "appid": str(config["app_id"]).strip(),
                       "secret": str(config["app_secret"]).strip(), "force_refresh": force}).encode("utf-8")
    try:
        answer = http_exchange("POST", _endpoint(config) + "/cgi-bin/stable_token", body=body,
                               headers={"Content-Type": "application/json"}, timeout=timeout, provider=_("WeChat"))
    except OutcomeUnknown as exc:  # no message went anywhere: only the token is lost, and trying again is harmless
        raise TemporaryFailure(exc.message, code=exc.code) from None
    try:
        data = _json_answer(answer.status, answer.json(), _("fetching the access token"))
    except OutcomeUnknown as exc:
        raise TemporaryFailure(exc.message, code=exc.code) from None
    token, expires_in = data.get("access_token"), data.get("expires_in")
    if not isinstance(token, str) or not token or not isinstance(expires_in, int):
        _fail(config, data.get("errcode", answer.status), data.get("errmsg"), _TOKEN_ERRORS)
    return token, expires_in


def _send_template(config: Mapping[str, object], token: str, message: Outgoing, timeout: float) -> dict:
    body = json.dumps({
        "touser": message.to.strip(),
        "template_id": message.template_code,
        "data": {name: {"value": str(value)} for name, value in message.params.items()},
    }, ensure_ascii=False).encode("utf-8")
    url = _endpoint(config) + "/cgi-bin/message/template/send?" + urllib.parse.urlencode({"access_token": token})
    answer = http_exchange("POST", url, body=body, headers={"Content-Type": "application/json; charset=utf-8"},
                           timeout=timeout, provider=_("WeChat"))
    return _json_answer(answer.status, answer.json(), _("sending the template message"))
