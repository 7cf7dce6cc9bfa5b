"""Alipay's open API for payment codes (当面付, 条码支付), as documented at opendocs.alipay.com:
``alipay.trade.pay`` with ``scene=bar_code`` charges a code, ``alipay.trade.query`` asks what became of a charge,
``alipay.trade.cancel`` cancels (撤销) one whose outcome is unknown, ``alipay.trade.refund`` refunds (by
``out_request_no``, a refund's idempotency key). Every request is a form POST to the gateway signed RSA2 (SHA256
with the app's private key); every answer is JSON whose ``…_response`` object is signed with Alipay's key, and an
answer whose signature is wrong is not believed.

python-alipay-sdk sends the signed request in a GET's URL and cannot tell a refused connection from a time-out
after sending — the difference between "nothing happened" and "ask what happened" a charge turns on — so the
protocol is our own, with RSA from ``cryptography``. Settings (``[payments.alipay]``): ``app_id``,
``private_key_file`` (the app's RSA private key, PEM or Alipay's bare base64), ``alipay_public_key_file``,
``url`` (default the gateway; a local server in tests), ``timeout``.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mms_tui import clock
from mms_tui.i18n import _
from mms_tui.services.base import http as web
from mms_tui.services.payments.providers import (
    Answer,
    BillUnavailable,
    NotSetUp,
    Outcome,
    fen_of,
    read_secret_file,
    scrub,
    setting,
    yuan,
)

URL = "https://openapi.alipay.com/gateway.do"
#: sub_code of a charge whose outcome is not known: ask (alipay.trade.query)
_ASK = {"ACQ.SYSTEM_ERROR", "ACQ.TRADE_HAS_SUCCESS", "ACQ.CONTEXT_INCONSISTENT", "aop.ACQ.SYSTEM_ERROR"}


def load_private_key(text: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(_pem(text, "PRIVATE KEY"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA key")
    return key


def load_public_key(text: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(_pem(text, "PUBLIC KEY"))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA key")
    return key


def _pem(text: str, kind: str) -> bytes:
    """A key as PEM: Alipay's tools hand out bare base64 (one line, no header); PEM stays as it is."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        return text.encode()
    body = "".join(text.split())
    lines = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {kind}-----\n{lines}\n-----END {kind}-----\n".encode()


def signing_text(params: Mapping[str, str]) -> str:
    """What is signed: every non-empty parameter but ``sign``, sorted by name, as ``k=v&…`` (values as they are)."""
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign" and v not in ("", None))


def rsa2_sign(text: str, key: rsa.RSAPrivateKey) -> str:
    return base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa2_verify(text: str, signature: str, key: rsa.RSAPublicKey) -> bool:
    try:
        key.verify(base64.b64decode(signature, validate=True), text.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def signed_part(raw: str, name: str) -> str | None:
    """The text of the answer's ``name`` object exactly as it stands in ``raw`` — what Alipay signed — found by
    walking the JSON's braces and strings; None when it is not there."""
    at = raw.find(f'"{name}"')
    if at < 0:
        return None
    start = raw.find("{", at + len(name) + 2)
    if start < 0 or raw[at + len(name) + 2:start].strip() != ":":
        return None
    depth, inside, escaped = 0, False, False
    for i in range(start, len(raw)):
        c = raw[i]
        if inside:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                inside = False
        elif c == '"':
            inside = True
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return raw[start:i + 1]
    return None


class Alipay:
    name = "alipay"

    def __init__(self, config: Mapping[str, object]) -> None:
        self.app_id = setting(config, "app_id")
        if not self.app_id:
            raise NotSetUp(_("Alipay: set app_id in [payments.alipay]."))
        try:
            self.private_key = load_private_key(read_secret_file(config, "private_key_file", "Alipay"))
        except ValueError:
            raise NotSetUp(_("Alipay: private_key_file is not an RSA private key.")) from None
        try:
            self.public_key = load_public_key(read_secret_file(config, "alipay_public_key_file", "Alipay"))
        except ValueError:
            raise NotSetUp(_("Alipay: alipay_public_key_file is not an RSA public key.")) from None
        self.url = setting(config, "url", URL) or URL
        self.timeout = float(setting(config, "timeout", "10") or 10)

    # --- the API --------------------------------------------------------------------------------------------

    def pay(self, out_trade_no: str, auth_code: str, amount_fen: int, subject: str) -> Answer:
        body = self._call("alipay.trade.pay", {"out_trade_no": out_trade_no, "scene": "bar_code",
                                               "auth_code": auth_code, "subject": subject[:100],
                                               "total_amount": yuan(amount_fen)}, secret=auth_code)
        if isinstance(body, Answer):
            return body
        code, sub = body.get("code", ""), body.get("sub_code", "")
        if code == "10000":
            return Answer(Outcome.PAID, trade_no=body.get("trade_no", ""), amount_fen=fen_of(body.get("total_amount")))
        if code == "10003":
            return Answer(Outcome.PAYING, code=code, message=self._words(body, auth_code))
        if code == "20000" or sub in _ASK:
            return Answer(Outcome.UNKNOWN, code=sub or code, message=self._words(body, auth_code))
        return Answer(Outcome.DECLINED, code=sub or code, message=self._words(body, auth_code))

    def query(self, out_trade_no: str) -> Answer:
        body = self._call("alipay.trade.query", {"out_trade_no": out_trade_no})
        if isinstance(body, Answer):
            return body
        code, sub = body.get("code", ""), body.get("sub_code", "")
        if code != "10000":
            outcome = Outcome.DECLINED if sub == "ACQ.TRADE_NOT_EXIST" else Outcome.UNKNOWN
            return Answer(outcome, code=sub or code, message=self._words(body))
        state = body.get("trade_status", "")
        if state in ("TRADE_SUCCESS", "TRADE_FINISHED"):
            return Answer(Outcome.PAID, trade_no=body.get("trade_no", ""), amount_fen=fen_of(body.get("total_amount")),
                          code=state)
        if state == "WAIT_BUYER_PAY":
            return Answer(Outcome.PAYING, code=state)
        if state == "TRADE_CLOSED":
            return Answer(Outcome.DECLINED, code=state)
        return Answer(Outcome.UNKNOWN, code=state)

    def cancel(self, out_trade_no: str) -> Answer:
        body = self._call("alipay.trade.cancel", {"out_trade_no": out_trade_no})
        if isinstance(body, Answer):
            return body
        code, sub = body.get("code", ""), body.get("sub_code", "")
        if code == "10000" and body.get("retry_flag", "N") != "Y":
            return Answer(Outcome.REVERSED, code=body.get("action", ""))
        if sub == "ACQ.TRADE_NOT_EXIST":
            return Answer(Outcome.REVERSED, code=sub)
        return Answer(Outcome.UNKNOWN, code=sub or code or "RETRY", message=self._words(body))

    def refund(self, out_trade_no: str, out_refund_no: str, total_fen: int, refund_fen: int,
               reason: str) -> Answer:
        body = self._call("alipay.trade.refund", {"out_trade_no": out_trade_no, "out_request_no": out_refund_no,
                                                  "refund_amount": yuan(refund_fen), "refund_reason": reason[:80]})
        if isinstance(body, Answer):
            return body
        code, sub = body.get("code", ""), body.get("sub_code", "")
        if code == "10000":
            return Answer(Outcome.PAID, trade_no=body.get("trade_no", ""), amount_fen=fen_of(body.get("refund_fee")))
        outcome = Outcome.UNKNOWN if code == "20000" or sub in _ASK else Outcome.DECLINED
        return Answer(outcome, code=sub or code, message=self._words(body))

    def bill(self, day) -> bytes:
        """The day's 业务明细 (``alipay.data.dataservice.bill.downloadurl.query``, type trade): the zip's bytes from
        the address Alipay gives; BillUnavailable with Alipay's words when there is none."""
        body = self._call("alipay.data.dataservice.bill.downloadurl.query",
                          {"bill_type": "trade", "bill_date": day.isoformat()})
        if isinstance(body, Answer) or body.get("code") != "10000" or not body.get("bill_download_url"):
            words = body.message if isinstance(body, Answer) else self._words(body)
            raise BillUnavailable(_("Alipay has no bill for {day}: {words}").format(day=day.isoformat(), words=words))
        try:
            answer = web.exchange("GET", body["bill_download_url"], timeout=self.timeout * 3)
        except web.HttpFailure as exc:
            raise BillUnavailable(_("Could not fetch Alipay's bill: {reason}.").format(reason=exc.reason)) from None
        if answer.status != 200:
            raise BillUnavailable(_("Alipay answered HTTP {status} for the bill.").format(status=answer.status))
        return answer.body

    # --- the exchange --------------------------------------------------------------------------------------

    def _call(self, method: str, biz: dict[str, str], *, secret: str = "") -> dict[str, str] | Answer:
        """The answer's ``…_response`` object when Alipay answered with it signed; else an Answer: NOT_SENT
        (nothing reached it), UNKNOWN (no answer, or one that cannot be believed), DECLINED (a gateway error
        before the business: bad app, bad signature — nothing was done)."""
        params = {"app_id": self.app_id, "method": method, "format": "JSON", "charset": "utf-8",
                  "sign_type": "RSA2", "timestamp": clock.now().strftime("%Y-%m-%d %H:%M:%S"), "version": "1.0",
                  "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":"))}
        params["sign"] = rsa2_sign(signing_text(params), self.private_key)
        try:
            answer = web.exchange("POST", self.url, body=urllib.parse.urlencode(params).encode(),
                                  headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
                                  timeout=self.timeout)
        except web.NotSent as exc:
            return Answer(Outcome.NOT_SENT, message=_("Could not reach Alipay: {reason}.").format(reason=exc.reason))
        except (web.BadAddress, web.Unwritable):
            return Answer(Outcome.NOT_SENT, message=_("Alipay: the url setting is not a valid address."))
        except web.OutcomeUnknown as exc:
            return Answer(Outcome.UNKNOWN, message=_("Alipay took the request but no answer came back "
                                                     "({reason}).").format(reason=exc.reason))
        try:
            raw = answer.body.decode("utf-8")
            whole = json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            whole = None
        name = method.replace(".", "_") + "_response"
        if answer.status != 200 or not isinstance(whole, dict):
            return Answer(Outcome.UNKNOWN, message=_("Alipay answered HTTP {status} without its JSON.").format(
                status=answer.status))
        if name not in whole and isinstance(whole.get("error_response"), dict):  # refused at the gateway
            error = whole["error_response"]
            return Answer(Outcome.DECLINED, code=str(error.get("sub_code") or error.get("code", "")),
                          message=self._words(error, secret))
        part = signed_part(raw, name)
        signature = whole.get("sign")
        if part is None or not isinstance(signature, str) or not rsa2_verify(part, signature, self.public_key):
            return Answer(Outcome.UNKNOWN, code="SIGN", message=_("Alipay's answer is not signed with Alipay's key: "
                                                                  "not believed."))
        body = json.loads(part)
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}

    def _words(self, body: Mapping[str, object], *more: str) -> str:
        return scrub(body.get("sub_msg") or body.get("msg") or body.get("code", ""), list(more))
