"""WeChat Pay's v2 API for payment codes (付款码支付), as documented at pay.weixin.qq.com (v2, 刷卡支付):
``/pay/micropay`` charges a code, ``/pay/orderquery`` asks what became of a charge, ``/secapi/pay/reverse``
reverses (撤销) one whose outcome is unknown, ``/secapi/pay/refund`` refunds; the last two with the merchant's
API certificate. Requests and answers are XML; both are signed with the merchant's API key (MD5, or HMAC-SHA256
when ``sign_type`` says so), and an answer whose signature is wrong is not believed.

wechatpy, the usual SDK, has had no release since 2021; the v2 XML API is small enough to own (STYLE.md). The
settings (``[payments.wechat]``): ``appid``, ``mch_id``, ``key`` (the API key), ``sign_type``, ``cert_file`` and
``key_file`` (the API certificate), ``url`` (default the provider's; a local server in tests), ``timeout``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import ssl
from collections.abc import Mapping
from xml.sax.saxutils import escape

from defusedxml import ElementTree

from mms_tui.i18n import _
from mms_tui.services.base import http as web
from mms_tui.services.payments.providers import Answer, BillUnavailable, NotSetUp, Outcome, scrub, setting

URL = "https://api.mch.weixin.qq.com"
#: err_code of a charge whose outcome is not known yet: ask (orderquery), as the documentation says
_ASK = {"SYSTEMERROR", "BANKERROR", "ORDERPAID", "OUT_TRADE_NO_USED", "TRADE_ERROR"}


def sign(params: Mapping[str, str], key: str, sign_type: str = "MD5") -> str:
    """The v2 signature: the non-empty parameters but ``sign`` sorted by name as ``k=v&…``, then ``&key=KEY``;
    MD5 (or HMAC-SHA256 keyed with the API key) in upper-case hex."""
    text = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign" and v not in ("", None))
    text += f"&key={key}"
    if sign_type == "HMAC-SHA256":
        return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest().upper()
    return hashlib.md5(text.encode()).hexdigest().upper()  # the provider's documented signature


def to_xml(params: Mapping[str, str]) -> bytes:
    return ("<xml>" + "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in params.items()) + "</xml>").encode()


def from_xml(body: bytes) -> dict[str, str] | None:
    """The answer's fields, or None when it is no XML of the provider's shape (defusedxml: no entities)."""
    try:
        root = ElementTree.fromstring(body)
    except Exception:  # whatever a proxy or a broken body is, it is not an answer
        return None
    if root.tag != "xml":
        return None
    return {child.tag: (child.text or "") for child in root}


class WeChatPay:
    name = "wechat"

    def __init__(self, config: Mapping[str, object]) -> None:
        self.appid, self.mch_id, self.key = (setting(config, k) for k in ("appid", "mch_id", "key"))
        missing = [k for k in ("appid", "mch_id", "key") if not setting(config, k)]
        if missing:
            raise NotSetUp(_("WeChat Pay: set {keys} in [payments.wechat].").format(keys=", ".join(missing)))
        self.sign_type = setting(config, "sign_type", "MD5").upper() or "MD5"
        if self.sign_type not in ("MD5", "HMAC-SHA256"):
            raise NotSetUp(_("WeChat Pay: sign_type is MD5 or HMAC-SHA256."))
        self.url = setting(config, "url", URL).rstrip("/") or URL
        self.timeout = float(setting(config, "timeout", "10") or 10)
        self.client_ip = setting(config, "client_ip", "127.0.0.1")
        self.cert_file, self.key_file = setting(config, "cert_file"), setting(config, "key_file")
        self.tls = self._tls()  # a charge in doubt is reversed with it: no desk charges codes without it

    # --- the API --------------------------------------------------------------------------------------------

    def pay(self, out_trade_no: str, auth_code: str, amount_fen: int, subject: str) -> Answer:
        fields = self._call("/pay/micropay", {"body": subject[:40], "out_trade_no": out_trade_no,
                                              "total_fee": str(amount_fen), "spbill_create_ip": self.client_ip,
                                              "auth_code": auth_code}, secret=auth_code)
        if isinstance(fields, Answer):
            return fields
        if fields.get("result_code") == "SUCCESS":
            return self._paid(fields, amount_fen)
        code = fields.get("err_code", "")
        if code == "USERPAYING":
            return Answer(Outcome.PAYING, code=code, message=self._words(fields, auth_code))
        if code in _ASK or not code:
            return Answer(Outcome.UNKNOWN, code=code, message=self._words(fields, auth_code))
        return Answer(Outcome.DECLINED, code=code, message=self._words(fields, auth_code))

    def query(self, out_trade_no: str) -> Answer:
        fields = self._call("/pay/orderquery", {"out_trade_no": out_trade_no})
        if isinstance(fields, Answer):
            return fields
        if fields.get("result_code") != "SUCCESS":
            code = fields.get("err_code", "")
            outcome = Outcome.DECLINED if code == "ORDERNOTEXIST" else Outcome.UNKNOWN
            return Answer(outcome, code=code, message=self._words(fields))
        state = fields.get("trade_state", "")
        if state in ("SUCCESS", "REFUND"):
            return self._paid(fields, None, code=state)
        if state == "USERPAYING":
            return Answer(Outcome.PAYING, code=state, message=fields.get("trade_state_desc", ""))
        if state in ("NOTPAY", "CLOSED", "REVOKED", "PAYERROR"):
            return Answer(Outcome.DECLINED, code=state, message=fields.get("trade_state_desc", ""))
        return Answer(Outcome.UNKNOWN, code=state, message=fields.get("trade_state_desc", ""))

    def cancel(self, out_trade_no: str) -> Answer:
        fields = self._call("/secapi/pay/reverse", {"out_trade_no": out_trade_no}, certificate=True)
        if isinstance(fields, Answer):
            return fields
        if fields.get("result_code") == "SUCCESS" and fields.get("recall", "N") != "Y":
            return Answer(Outcome.REVERSED)
        code = fields.get("err_code", "")
        if code == "ORDERNOTEXIST":
            return Answer(Outcome.REVERSED, code=code, message=self._words(fields))
        return Answer(Outcome.UNKNOWN, code=code or "RECALL", message=self._words(fields))

    def refund(self, out_trade_no: str, out_refund_no: str, total_fen: int, refund_fen: int,
               reason: str) -> Answer:
        fields = self._call("/secapi/pay/refund", {"out_trade_no": out_trade_no, "out_refund_no": out_refund_no,
                                                   "total_fee": str(total_fen), "refund_fee": str(refund_fen),
                                                   "refund_desc": reason[:80]}, certificate=True)
        if isinstance(fields, Answer):
            return fields
        if fields.get("result_code") == "SUCCESS":
            return Answer(Outcome.PAID, trade_no=fields.get("refund_id", ""),
                          amount_fen=_int(fields.get("refund_fee")))
        code = fields.get("err_code", "")
        outcome = Outcome.UNKNOWN if code in ("SYSTEMERROR", "BIZERR_NEED_RETRY") else Outcome.DECLINED
        return Answer(outcome, code=code, message=self._words(fields))

    def bill(self, day) -> bytes:
        """The day's bill (``/pay/downloadbill``, type ALL) as the CSV text's bytes; BillUnavailable with the
        provider's words when there is none (no trade that day, not generated yet) or it cannot be had."""
        request = {"appid": self.appid, "mch_id": self.mch_id, "nonce_str": secrets.token_hex(16),
                   "bill_date": day.strftime("%Y%m%d"), "bill_type": "ALL"}
        if self.sign_type != "MD5":
            request["sign_type"] = self.sign_type
        request["sign"] = sign(request, self.key, self.sign_type)
        try:
            answer = web.exchange("POST", self.url + "/pay/downloadbill", body=to_xml(request), timeout=self.timeout * 3,
                                  headers={"Content-Type": "text/xml; charset=utf-8"})
        except web.HttpFailure as exc:
            raise BillUnavailable(_("Could not fetch WeChat Pay's bill: {reason}.").format(reason=exc.reason)) from None
        if answer.body.lstrip().startswith(b"<xml>"):  # a refusal, in XML: there is no bill
            fields = from_xml(answer.body) or {}
            raise BillUnavailable(_("WeChat Pay has no bill for {day}: {words}").format(
                day=day.isoformat(), words=scrub(fields.get("return_msg", ""), [self.key])))
        if answer.status != 200:
            raise BillUnavailable(_("WeChat Pay answered HTTP {status} for the bill.").format(status=answer.status))
        return answer.body

    # --- the exchange --------------------------------------------------------------------------------------

    def _call(self, path: str, params: dict[str, str], *, certificate: bool = False,
              secret: str = "") -> dict[str, str] | Answer:
        """The answer's fields when the provider answered with its signed XML and ``return_code`` SUCCESS; else an
        Answer: NOT_SENT (nothing reached it), DECLINED (return_code FAIL: the request itself was refused, so
        nothing was done), UNKNOWN (no answer, or one that cannot be believed)."""
        request = {"appid": self.appid, "mch_id": self.mch_id, "nonce_str": secrets.token_hex(16), **params}
        if self.sign_type != "MD5":
            request["sign_type"] = self.sign_type
        request["sign"] = sign(request, self.key, self.sign_type)
        try:
            answer = web.exchange("POST", self.url + path, body=to_xml(request), timeout=self.timeout,
                                  headers={"Content-Type": "text/xml; charset=utf-8"},
                                  tls=self.tls if certificate else None)
        except web.NotSent as exc:
            return Answer(Outcome.NOT_SENT, message=_("Could not reach WeChat Pay: {reason}.").format(
                reason=exc.reason))
        except (web.BadAddress, web.Unwritable):
            return Answer(Outcome.NOT_SENT, message=_("WeChat Pay: the url setting is not a valid address."))
        except web.OutcomeUnknown as exc:
            return Answer(Outcome.UNKNOWN, message=_("WeChat Pay took the request but no answer came back "
                                                     "({reason}).").format(reason=exc.reason))
        fields = from_xml(answer.body) if answer.status == 200 else None
        if fields is None:
            return Answer(Outcome.UNKNOWN, message=_("WeChat Pay answered HTTP {status} without its XML.").format(
                status=answer.status))
        if fields.get("return_code") != "SUCCESS":
            return Answer(Outcome.DECLINED, code=fields.get("return_code", ""),
                          message=scrub(fields.get("return_msg", ""), [self.key, secret]))
        if fields.get("sign") != sign(fields, self.key, fields.get("sign_type") or self.sign_type):
            return Answer(Outcome.UNKNOWN, code="SIGN", message=_("WeChat Pay's answer is not signed with the "
                                                                  "merchant's key: not believed."))
        return fields

    def _tls(self) -> ssl.SSLContext:
        if not (self.cert_file and self.key_file):
            raise NotSetUp(_("WeChat Pay: a charge in doubt is reversed with the merchant's API certificate: set "
                             "cert_file and key_file in [payments.wechat]."))
        context = ssl.create_default_context()
        try:
            context.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise NotSetUp(_("WeChat Pay: cannot load the API certificate ({reason}).").format(
                reason=type(exc).__name__)) from None
        return context

    def _paid(self, fields: Mapping[str, str], amount_fen: int | None, code: str = "") -> Answer:
        taken = _int(fields.get("total_fee"))
        return Answer(Outcome.PAID, trade_no=fields.get("transaction_id", ""), amount_fen=taken, code=code)

    def _words(self, fields: Mapping[str, str], *more: str) -> str:
        return scrub(fields.get("err_code_des") or fields.get("return_msg") or fields.get("err_code", ""),
                     [self.key, *more])


def _int(text: object) -> int | None:
    try:
        return int(str(text))
    except (TypeError, ValueError):
        return None
