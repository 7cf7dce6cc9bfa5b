"""Local stand-ins for the message providers: each an HTTP server on 127.0.0.1 (an ephemeral port, a thread of its
own) that checks requests the way the provider does and answers in the provider's own shapes.

They never import the code under test: the Aliyun and Tencent servers recompute signatures with signing code
written here, separately (and the signers themselves are checked against the providers' published examples in
test_messages_sms.py), so a mistake in one does not hide behind the same mistake in the other.

Every server has the same handles, for these tests and for the worker's (kill -9 mid-batch, then count what
each provider took)::

    with AliyunServer() as aliyun:
        aliyun.url              # http://127.0.0.1:PORT/
        aliyun.received         # what it accepted, in order: one dict per message (see each server)
        aliyun.hits             # every request that reached it, accepted or not
        aliyun.fail_next(code, times=1)  # answer the next requests with this provider error code
        aliyun.drop_next(times=1)        # accept the next requests, then close without answering
        aliyun.down = True               # answer 503 to everything, accept nothing
        aliyun.stall_seconds = 5         # handle, then wait this long before answering (a client timeout)
        aliyun.reset()                   # forget what was received and queued

A request is handled before the stall (or the drop), so a stalled or dropped send *was* accepted and is in
``received``: the case of a message that went out while its sender saw no answer. A stall delays every answer,
token requests included. ``stop()`` wakes stalled handlers so that no test waits for them.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    def json(self) -> object:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None


@dataclass
class Reply:
    status: int
    payload: object  # JSON-able, or bytes as they are
    #: the provider took the message (it is in ``received``): only such a request is dropped by drop_next
    accepted: bool = False
    headers: dict[str, str] = field(default_factory=dict)


class ProviderServer:
    """What every stand-in shares: the thread, the switches, the handler that reads a request and writes a reply."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.hits = 0
        self.down = False
        self.stall_seconds = 0.0
        self.url = ""
        self._failures: collections.deque = collections.deque()
        self._drops = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life ---------------------------------------------------------------------------------------------------

    def start(self) -> Self:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._serve(self)

            do_POST = do_GET

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

        class Quiet(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:  # a client gone after its timeout
                pass

        self._stopping.clear()
        self._httpd = Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"
        # a short poll: stop() (shutdown) waits up to one interval
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- switches -----------------------------------------------------------------------------------------------

    def fail_next(self, code: object, times: int = 1) -> None:
        """Answer the next ``times`` requests (that pass authentication) with the provider error ``code``."""
        with self._lock:
            self._failures.extend([code] * times)

    def drop_next(self, times: int = 1) -> None:
        """Accept the next ``times`` messages, then close the connection without a word."""
        with self._lock:
            self._drops += times

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self._failures.clear()
            self._drops = 0
            self.hits = 0

    def _next_failure(self) -> object | None:
        with self._lock:
            return self._failures.popleft() if self._failures else None

    def _record(self, item: dict) -> None:
        with self._lock:
            self.received.append(item)

    # -- the exchange -------------------------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        parts = urllib.parse.urlsplit(handler.path)
        request = Request(handler.command, parts.path,
                          dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)),
                          {name.lower(): value for name, value in handler.headers.items()}, body)
        with self._lock:
            self.hits += 1
        if self.down:
            reply = self._down_reply()
        else:
            reply = self.answer(request)
            if self.stall_seconds:
                self._stopping.wait(self.stall_seconds)
        if reply.accepted:
            with self._lock:
                drop, self._drops = self._drops > 0, max(self._drops - 1, 0)
            if drop:
                handler.close_connection = True
                return
        data = reply.payload if isinstance(reply.payload, bytes) else json.dumps(
            reply.payload, ensure_ascii=False).encode("utf-8")
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", reply.headers.get("Content-Type", "application/json;charset=utf-8"))
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:  # the client gave up (its timeout) before the answer
            pass

    def _down_reply(self) -> Reply:
        return Reply(503, b"<html><body>503 Service Temporarily Unavailable</body></html>",
                     headers={"Content-Type": "text/html"})

    def answer(self, request: Request) -> Reply:
        raise NotImplementedError


def _request_id() -> str:
    return str(uuid.uuid4()).upper()


# --- 阿里云 dysmsapi ----------------------------------------------------------------------------------------------


def _aliyun_encode(text: str) -> str:
    """RFC 3986 byte by byte, as Aliyun documents it (written apart from the client's urllib-based encoder)."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if byte < 128 and (char.isalnum() or char in "-_.~"):
            out.append(char)
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def aliyun_expected_signature(params: dict[str, str], secret: str, method: str) -> tuple[str, str]:
    """(StringToSign, Signature) the server computes for what it received."""
    pairs = sorted((name, value) for name, value in params.items() if name != "Signature")
    canonical = "&".join(_aliyun_encode(name) + "=" + _aliyun_encode(value) for name, value in pairs)
    to_sign = method + "&" + _aliyun_encode("/") + "&" + _aliyun_encode(canonical)
    mac = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1)
    return to_sign, base64.b64encode(mac.digest()).decode()


#: the HTTP status Aliyun answers each code with (business codes, isv.* and isp.*, come with 200)
_ALIYUN_STATUS = {"SignatureDoesNotMatch": 400, "InvalidAccessKeyId.NotFound": 404, "Throttling.User": 400,
                  "ServiceUnavailable": 503, "InternalError": 500, "SignatureNonceUsed": 400,
                  "InvalidTimeStamp.Expired": 400, "InvalidAccessKeyId.Inactive": 400}

_MAINLAND = re.compile(r"1[0-9]{10}")


class AliyunServer(ProviderServer):
    """dysmsapi 2017-05-25: SendSms and QuerySendDetails, RPC signature V1 checked with the known secret.

    ``received`` items: ``{"phone", "out_id", "template_code", "template_param" (dict), "sign_name", "biz_id",
    "send_date" (yyyyMMdd, Beijing), "nonce"}``. ``templates`` / ``sign_names`` (sets), when given, are the only
    approved ones (isv.SMS_TEMPLATE_ILLEGAL / isv.SMS_SIGNATURE_ILLEGAL otherwise).
    """

    def __init__(self, access_key_id: str = "LTAI-test-key", access_key_secret: str = "aliyun-test-secret-0001", *,
                 templates: set[str] | None = None, sign_names: set[str] | None = None) -> None:
        super().__init__()
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.templates = templates
        self.sign_names = sign_names
        self._nonces: set[str] = set()
        self._biz = itertools.count(900619746936498440)
        #: OutId → the SendStatus QuerySendDetails reports (1 waiting, 2 failed, 3 delivered: the default)
        self.statuses: dict[str, int] = {}

    def _down_reply(self) -> Reply:
        return Reply(503, {"RequestId": _request_id(), "HostId": "dysmsapi.aliyuncs.com", "Code": "ServiceUnavailable",
                           "Message": "The request has failed due to a temporary failure of the server."})

    @staticmethod
    def _error(code: str, message: str = "", status: int | None = None) -> Reply:
        status = status or _ALIYUN_STATUS.get(code, 200 if code.startswith(("isv.", "isp.")) else 400)
        return Reply(status, {"RequestId": _request_id(), "Code": code, "Message": message or code})

    def answer(self, request: Request) -> Reply:
        params = {**request.query, **(request.form() if request.method == "POST" else {})}
        for name in ("AccessKeyId", "Action", "Format", "SignatureMethod", "SignatureNonce", "SignatureVersion",
                     "Timestamp", "Version", "Signature"):
            if not params.get(name):
                return self._error("Missing" + name, f"{name} is mandatory for this action.", 400)
        if params["AccessKeyId"] != self.access_key_id:
            return self._error("InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            return self._error("InvalidParameter", "SignatureMethod or SignatureVersion is not supported.", 400)
        to_sign, signature = aliyun_expected_signature(params, self.access_key_secret, request.method)
        if params["Signature"] != signature:
            return self._error("SignatureDoesNotMatch", "Specified signature is not matched with our calculation. "
                               f"server string to sign is:{to_sign}")
        try:
            stamp = dt.datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            return self._error("InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
        if abs(stamp.timestamp() - time.time()) > 15 * 60:
            return self._error("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        with self._lock:
            if params["SignatureNonce"] in self._nonces:
                return self._error("SignatureNonceUsed", "Specified signature nonce was used already.")
            self._nonces.add(params["SignatureNonce"])
        if params["Version"] != "2017-05-25" or params["Format"] != "JSON":
            return self._error("InvalidVersion", "Specified parameter Version or Format is not valid.", 400)
        if params["Action"] == "SendSms":
            return self._send(params)
        if params["Action"] == "QuerySendDetails":
            return self._query(params)
        return self._error("InvalidAction.NotFound", "Specified api is not found, please check your url and method.",
                           404)

    def _send(self, params: dict[str, str]) -> Reply:
        for name in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not params.get(name):
                return self._error("Missing" + name, f"{name} is mandatory for this action.", 400)
        failure = self._next_failure()
        if failure is not None:
            return self._error(str(failure))
        if not _MAINLAND.fullmatch(params["PhoneNumbers"]):
            return self._error("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if self.templates is not None and params["TemplateCode"] not in self.templates:
            return self._error("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        if self.sign_names is not None and params["SignName"] not in self.sign_names:
            return self._error("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        try:
            template_param = json.loads(params.get("TemplateParam") or "{}")
        except ValueError:
            return self._error("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        biz_id = f"{next(self._biz)}^0"
        self._record({"phone": params["PhoneNumbers"], "out_id": params.get("OutId", ""),
                      "template_code": params["TemplateCode"], "template_param": template_param,
                      "sign_name": params["SignName"], "biz_id": biz_id,
                      "send_date": dt.datetime.fromtimestamp(time.time(), BEIJING).strftime("%Y%m%d"), "nonce": params["SignatureNonce"]})
        return Reply(200, {"Message": "OK", "RequestId": _request_id(), "Code": "OK", "BizId": biz_id}, accepted=True)

    def _query(self, params: dict[str, str]) -> Reply:
        for name in ("PhoneNumber", "SendDate", "PageSize", "CurrentPage"):
            if not params.get(name):
                return self._error("Missing" + name, f"{name} is mandatory for this action.", 400)
        size, page = int(params["PageSize"]), int(params["CurrentPage"])
        if not 1 <= size <= 50 or page < 1:
            return self._error("isv.INVALID_PARAMETERS", "参数异常")
        with self._lock:
            found = [item for item in self.received
                     if item["phone"] == params["PhoneNumber"] and item["send_date"] == params["SendDate"]
                     and params.get("BizId", item["biz_id"]) == item["biz_id"]]
        shown = found[(page - 1) * size: page * size]
        details = [{"ErrCode": {3: "DELIVERED", 2: "MK:0001", 1: ""}[self.statuses.get(item["out_id"], 3)],
                    "TemplateCode": item["template_code"], "OutId": item["out_id"],
                    "ReceiveDate": "", "SendDate": item["send_date"], "PhoneNum": item["phone"],
                    "Content": json.dumps(item["template_param"], ensure_ascii=False),
                    "SendStatus": self.statuses.get(item["out_id"], 3)}
                   for item in shown]
        return Reply(200, {"TotalCount": len(found), "Message": "OK", "RequestId": _request_id(),
                           "SmsSendDetailDTOs": {"SmsSendDetailDTO": details}, "Code": "OK"})


# --- 腾讯云 SMS 2021-01-11 ---------------------------------------------------------------------------------------


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tencent_expected_signature(secret_key: str, *, headers: dict[str, str], signed_headers: list[str],
                               date: str, service: str, timestamp: str, body: bytes) -> str:
    """TC3-HMAC-SHA256 over the headers the request says it signed, from their received values."""
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip().lower()}\n" for name in signed_headers)
    canonical = "POST\n/\n\n" + canonical_headers + "\n" + ";".join(signed_headers) + "\n" + _sha256_hex(body)
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{date}/{service}/tc3_request\n{_sha256_hex(canonical.encode())}"
    key = ("TC3" + secret_key).encode()
    for part in (date, service, "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


_AUTHORIZATION = re.compile(r"TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/([a-z]+)/tc3_request, "
                            r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})")


class TencentServer(ProviderServer):
    """SendSms of Tencent Cloud SMS API 2021-01-11 with its TC3-HMAC-SHA256 Authorization checked.

    ``received`` items: ``{"phone" ("+86…"), "session_context", "template_id", "template_params" (list),
    "sign_name", "sdk_app_id", "serial_no"}``. ``fail_next(code)`` answers with ``Response.Error``;
    ``fail_next(code, per_number=True)`` answers with that code in the number's ``SendStatusSet`` item instead.
    """

    def __init__(self, secret_id: str = "AKID-test-id", secret_key: str = "tencent-test-secret-0001",
                 sdk_app_id: str = "1400000001") -> None:
        super().__init__()
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.sdk_app_id = sdk_app_id
        self._serial = itertools.count(1045710669157053657849499619)

    def fail_next(self, code: object, times: int = 1, *, per_number: bool = False) -> None:
        super().fail_next((code, per_number), times)

    @staticmethod
    def _error(code: str, message: str = "") -> Reply:
        return Reply(200, {"Response": {"Error": {"Code": code, "Message": message or code},
                                        "RequestId": str(uuid.uuid4())}})

    def answer(self, request: Request) -> Reply:
        if request.method != "POST":
            return self._error("InvalidParameter", "only POST with JSON is used here")
        found = _AUTHORIZATION.fullmatch(request.headers.get("authorization", ""))
        if found is None:
            return self._error("AuthFailure.SignatureFailure", "The provided credentials could not be validated. "
                               "Please check your signature is correct.")
        secret_id, date, service, signed, signature = found.groups()
        if secret_id != self.secret_id:
            return self._error("AuthFailure.SecretIdNotFound", "The SecretId is not found, please ensure that "
                               "your SecretId is correct.")
        timestamp = request.headers.get("x-tc-timestamp", "")
        if not timestamp.isdigit() or abs(int(timestamp) - time.time()) > 300:
            return self._error("AuthFailure.SignatureExpire", "Signature expired. Timestamp is out of range.")
        signed_headers = signed.split(";")
        if "content-type" not in signed_headers or "host" not in signed_headers or service != "sms" or date != (
                dt.datetime.fromtimestamp(int(timestamp), dt.UTC).strftime("%Y-%m-%d")):
            return self._error("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
        expected = tencent_expected_signature(self.secret_key, headers=request.headers, signed_headers=signed_headers,
                                              date=date, service=service, timestamp=timestamp, body=request.body)
        if not hmac.compare_digest(expected, signature):
            return self._error("AuthFailure.SignatureFailure", "The provided credentials could not be validated. "
                               "Please check your signature is correct.")
        if request.headers.get("x-tc-action") != "SendSms" or request.headers.get("x-tc-version") != "2021-01-11":
            return self._error("InvalidAction", "The action or version is not valid.")
        if not request.headers.get("x-tc-region"):
            return self._error("MissingParameter", "The request is missing a required parameter `Region`.")
        body = request.json()
        if not isinstance(body, dict):
            return self._error("InvalidParameter", "The request body is not JSON.")
        for name in ("PhoneNumberSet", "SmsSdkAppId", "TemplateId"):
            if not body.get(name):
                return self._error("MissingParameter", f"The request is missing a required parameter `{name}`.")
        if body["SmsSdkAppId"] != self.sdk_app_id:
            return self._error("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId does not exist.")
        failure = self._next_failure()
        phone = body["PhoneNumberSet"][0]
        status = {"SerialNo": "", "PhoneNumber": phone, "Fee": 0, "SessionContext": body.get("SessionContext", ""),
                  "IsoCode": "CN"}
        if failure is not None:
            code, per_number = failure
            if not per_number:
                return self._error(str(code))
            status.update(Code=code, Message=str(code))
        elif not re.fullmatch(r"\+861[0-9]{10}", phone):
            status.update(Code="InvalidParameterValue.IncorrectPhoneNumber", Message="incorrect phone number")
        else:
            serial = f"3369:{next(self._serial)}"
            status.update(SerialNo=serial, Fee=1, Code="Ok", Message="send success")
            self._record({"phone": phone, "session_context": body.get("SessionContext", ""),
                          "template_id": body["TemplateId"], "template_params": list(body.get("TemplateParamSet", [])),
                          "sign_name": body.get("SignName", ""), "sdk_app_id": body["SmsSdkAppId"],
                          "serial_no": serial})
            return Reply(200, {"Response": {"SendStatusSet": [status], "RequestId": str(uuid.uuid4())}},
                         accepted=True)
        return Reply(200, {"Response": {"SendStatusSet": [status], "RequestId": str(uuid.uuid4())}})


# --- a reseller's gateway -----------------------------------------------------------------------------------------


class GatewayServer(ProviderServer):
    """A typical reseller: any path and method, a form, JSON or query body, answering
    ``{"code": "0", "msg": "ok", "data": {"id": "gw-N"}}``.

    ``received`` items: ``{"method", "path", "content_type", "headers" (lower-cased names), "fields"}``.
    ``fail_next(429)`` (an int) answers that HTTP status; ``fail_next("40001")`` (text) answers 200 with that code.
    ``dedupe_field``, when set, makes it idempotent: a repeated value of that field is answered with the first
    message's id and not received again.
    """

    def __init__(self, *, dedupe_field: str | None = None) -> None:
        super().__init__()
        self.dedupe_field = dedupe_field
        self._ids: dict[str, str] = {}
        self._next_id = itertools.count(1)

    def answer(self, request: Request) -> Reply:
        content_type = request.headers.get("content-type", "")
        if request.method == "GET":
            fields = dict(request.query)
        elif content_type.startswith("application/json"):
            data = request.json()
            if not isinstance(data, dict):
                return Reply(400, {"code": "400", "msg": "bad json"})
            fields = data
        else:
            fields = request.form()
        failure = self._next_failure()
        if isinstance(failure, int):
            return Reply(failure, {"code": str(failure), "msg": f"http {failure}"})
        if failure is not None:
            return Reply(200, {"code": str(failure), "msg": f"rejected: {failure}"})
        dedupe = str(fields.get(self.dedupe_field, "")) if self.dedupe_field else ""
        with self._lock:
            if dedupe and dedupe in self._ids:
                return Reply(200, {"code": "0", "msg": "duplicate, already sent", "data": {"id": self._ids[dedupe]}})
            message_id = f"gw-{next(self._next_id)}"
            if dedupe:
                self._ids[dedupe] = message_id
        self._record({"method": request.method, "path": request.path, "content_type": content_type,
                      "headers": dict(request.headers), "fields": fields, "id": message_id})
        return Reply(200, {"code": "0", "msg": "ok", "data": {"id": message_id}}, accepted=True)


# --- WeChat Official Account -------------------------------------------------------------------------------------


class WeChatServer(ProviderServer):
    """The access-token APIs (classic GET /cgi-bin/token and POST /cgi-bin/stable_token) and template sends.

    ``received`` items: ``{"touser", "template_id", "data" ({name: value}), "msgid", "token"}``. ``token_requests``
    counts calls to the token APIs, ``tokens_issued`` the distinct tokens handed out, ``force_refreshes`` the
    stable-token calls with force_refresh. ``fail_next(errcode)`` answers template sends; ``fail_token_next``
    answers token requests. ``revoke_tokens()`` makes every token invalid (40001), ``expire_tokens()`` expired
    (42001). ``followers`` / ``templates`` (sets), when given, are the only openids (43004 otherwise) and template
    ids (40037) accepted.
    """

    def __init__(self, app_id: str = "wx1234567890abcdef", app_secret: str = "wechat-test-secret-0001", *,
                 token_lifetime: int = 7200, followers: set[str] | None = None,
                 templates: set[str] | None = None) -> None:
        super().__init__()
        self.app_id = app_id
        self.app_secret = app_secret
        self.token_lifetime = token_lifetime
        self.followers = followers
        self.templates = templates
        self.token_requests = 0
        self.tokens_issued = 0
        self.force_refreshes = 0
        self._tokens: dict[str, float] = {}  # token → when it expires (time.time())
        self._stable: str | None = None
        self._token_failures: collections.deque = collections.deque()
        self._msgid = itertools.count(2_000_000_001)

    def fail_token_next(self, errcode: int, times: int = 1) -> None:
        with self._lock:
            self._token_failures.extend([errcode] * times)

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()
            self._stable = None

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens = dict.fromkeys(self._tokens, 0.0)

    def _down_reply(self) -> Reply:
        return Reply(503, b"503 Service Unavailable", headers={"Content-Type": "text/plain"})

    def _issue(self) -> str:
        token = "AT_" + uuid.uuid4().hex + uuid.uuid4().hex
        self._tokens[token] = time.time() + self.token_lifetime
        self.tokens_issued += 1
        return token

    def answer(self, request: Request) -> Reply:
        if request.path == "/cgi-bin/token" and request.method == "GET":
            return self._classic_token(request.query)
        if request.path == "/cgi-bin/stable_token" and request.method == "POST":
            body = request.json()
            return self._stable_token(body if isinstance(body, dict) else {})
        if request.path == "/cgi-bin/message/template/send" and request.method == "POST":
            return self._template_send(request)
        return Reply(404, {"errcode": 404, "errmsg": "not found"})

    def _credentials_error(self, appid: object, secret: object, stable: bool) -> Reply | None:
        with self._lock:
            self.token_requests += 1
            failure = self._token_failures.popleft() if self._token_failures else None
        if failure is not None:
            return Reply(200, {"errcode": failure, "errmsg": f"error {failure} rid: {uuid.uuid4().hex[:8]}"})
        if appid != self.app_id:
            return Reply(200, {"errcode": 40013, "errmsg": "invalid appid"})
        if secret != self.app_secret:
            return Reply(200, {"errcode": 40125 if stable else 40001, "errmsg": "invalid appsecret"})
        return None

    def _classic_token(self, query: dict[str, str]) -> Reply:
        refused = self._credentials_error(query.get("appid"), query.get("secret"), stable=False)
        if refused:
            return refused
        with self._lock:
            token = self._issue()
        return Reply(200, {"access_token": token, "expires_in": self.token_lifetime})

    def _stable_token(self, body: dict) -> Reply:
        if body.get("grant_type") != "client_credential":
            return Reply(200, {"errcode": 40002, "errmsg": "invalid grant_type"})
        refused = self._credentials_error(body.get("appid"), body.get("secret"), stable=True)
        if refused:
            return refused
        with self._lock:
            now = time.time()
            if body.get("force_refresh") is True:
                self.force_refreshes += 1
                self._tokens.pop(self._stable or "", None)
                self._stable = None
            if self._stable is None or self._tokens.get(self._stable, 0.0) <= now:
                self._stable = self._issue()
            token = self._stable
            left = int(self._tokens[token] - now)
        return Reply(200, {"access_token": token, "expires_in": max(left, 0)})

    def _template_send(self, request: Request) -> Reply:
        token = request.query.get("access_token")
        with self._lock:
            expires = self._tokens.get(token or "")
        if not token:
            return Reply(200, {"errcode": 41001, "errmsg": "access_token missing"})
        if expires is None:
            return Reply(200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not "
                                                           "latest"})
        if expires <= time.time():
            return Reply(200, {"errcode": 42001, "errmsg": "access_token expired"})
        failure = self._next_failure()
        if failure is not None:
            return Reply(200, {"errcode": failure, "errmsg": f"error {failure} rid: {uuid.uuid4().hex[:8]}"})
        body = request.json()
        if not isinstance(body, dict):
            return Reply(200, {"errcode": 47001, "errmsg": "data format error"})
        touser, template_id, data = body.get("touser"), body.get("template_id"), body.get("data")
        if not touser or not isinstance(touser, str):
            return Reply(200, {"errcode": 40003, "errmsg": "invalid openid"})
        if self.followers is not None and touser not in self.followers:
            return Reply(200, {"errcode": 43004, "errmsg": "require subscribe"})
        if not template_id or (self.templates is not None and template_id not in self.templates):
            return Reply(200, {"errcode": 40037, "errmsg": "invalid template_id"})
        if not isinstance(data, dict) or not all(isinstance(item, dict) and isinstance(item.get("value"), str)
                                                 for item in data.values()):
            return Reply(200, {"errcode": 47003, "errmsg": "argument invalid! data.value invalid"})
        msgid = next(self._msgid)
        self._record({"touser": touser, "template_id": template_id,
                      "data": {name: item["value"] for name, item in data.items()}, "msgid": msgid, "token": token})
        return Reply(200, {"errcode": 0, "errmsg": "ok", "msgid": msgid}, accepted=True)
