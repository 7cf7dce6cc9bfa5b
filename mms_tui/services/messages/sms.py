"""SMS to members through 阿里云短信 (Alibaba Cloud dysmsapi), 腾讯云短信 (Tencent Cloud SMS) or a reseller's HTTP
gateway, over the standard library alone.

Why written out rather than the providers' SDKs: each SDK pulls in dozens of packages for one signed POST, and
their errors do not tell "never reached the provider" from "reached it, no answer". Here each request is signed as
the provider's documentation gives it (tests/test_messages_sms.py checks both signers against the worked examples
published there), and every outcome is one of channel.py's answers:

* the provider took it → :class:`Sent` with its id (Aliyun BizId, Tencent SerialNo, the gateway's id field);
* it refused, or could not be reached before the request was written → :class:`TemporaryFailure` or
  :class:`PermanentFailure` (the provider's code kept in ``.code``);
* the request went out and no answer came back (a timeout, a dropped connection) → :class:`OutcomeUnknown`: the
  member may have it, so the worker must not resend blindly. :func:`query` can ask Aliyun afterwards whether our
  OutId is in its records; :func:`idempotent` says whether a gateway de-duplicates by our key.

Secrets (AccessKey secret, SecretKey, tokens) go into signatures and headers only: no message of any exception
raised here names them, and provider texts quoted in a message are scrubbed of them first.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import string
import time
import urllib.parse
import uuid
from collections.abc import Iterable, Mapping
from typing import NoReturn
from zoneinfo import ZoneInfo

from mms_tui import clock
from mms_tui.i18n import N_, _
from mms_tui.services.base import http as web
from mms_tui.services.base.http import HttpAnswer
from mms_tui.services.messages.channel import (
    NotConfigured,
    OutcomeUnknown,
    Outgoing,
    PermanentFailure,
    Sent,
    TemporaryFailure,
)

PROVIDERS = ("aliyun", "tencent", "http")

ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
ALIYUN_REGION = "cn-hangzhou"
ALIYUN_VERSION = "2017-05-25"
#: QuerySendDetails takes 1–50 records a page; more pages than this for one number on one day is not a member
_ALIYUN_PAGE_SIZE = 50
_ALIYUN_MAX_PAGES = 20

TENCENT_ENDPOINT = "https://sms.tencentcloudapi.com/"
TENCENT_REGION = "ap-guangzhou"
TENCENT_VERSION = "2021-01-11"
TENCENT_CONTENT_TYPE = "application/json; charset=utf-8"

#: the providers keep their records by the day in Beijing time (SendDate of QuerySendDetails)
BEIJING = ZoneInfo("Asia/Shanghai")
_MOBILE = re.compile(r"1[0-9]{10}")


# --- HTTP, shared with wechat.py --------------------------------------------------------------------------------


def http_exchange(method: str, url: str, *, body: bytes | None = None, headers: Mapping[str, str] | None = None,
                  timeout: float, provider: str) -> HttpAnswer:
    """One HTTP request (:func:`mms_tui.services.base.http.exchange`), its failures as a channel's: never a whole
    request → :class:`TemporaryFailure` (trying again is safe); no whole answer → :class:`OutcomeUnknown` (the
    message may have gone out); a request that could not be written → :class:`PermanentFailure`. ``provider``
    names it in the message; the URL (which may carry a token) never appears."""
    try:
        return web.exchange(method, url, body=body, headers=headers, timeout=timeout)
    except web.BadAddress:
        raise NotConfigured(_("{provider}: the address is not a valid URL.").format(provider=provider)) from None
    except web.NotSent as exc:
        raise TemporaryFailure(_("Could not reach {provider}: {reason}.").format(
            provider=provider, reason=exc.reason)) from None
    except web.Unwritable as exc:
        raise PermanentFailure(_("{provider}: the request could not be written ({reason}).").format(
            provider=provider, reason=exc.reason)) from None
    except web.OutcomeUnknown as exc:
        raise OutcomeUnknown(_("{provider} received the request but no answer came back ({reason}): the message "
                               "may have gone out.").format(provider=provider, reason=exc.reason)) from None


def scrub(text: object, secrets: Iterable[object]) -> str:
    """``text`` on one line, at most 200 characters, with every secret replaced by ***: a provider's message is
    quoted to the operator, and some providers echo what they were sent."""
    line = " ".join(str(text or "").split())
    for secret in secrets:
        if isinstance(secret, str) and len(secret) >= 4:
            line = line.replace(secret, "***")
    return line[:200]


# --- entry points ----------------------------------------------------------------------------------------------


def send(config: Mapping[str, object], message: Outgoing, *, timeout: float = 10.0) -> Sent:
    """Send one SMS through the provider ``config["provider"]`` names; raise a channel failure otherwise.

    The number is checked before anything is sent: a mainland mobile number (11 digits, 1xxxxxxxxxx) or
    :class:`PermanentFailure` — no provider would take anything else, and a refused request still costs a call.
    """
    problems = check_config(config)
    if problems:
        raise NotConfigured(_("SMS is not configured: {problems}").format(problems="; ".join(problems)))
    provider = config["provider"]
    phone = _mainland_mobile(message.to)
    if provider == "aliyun":
        return _aliyun_send(config, message, phone, timeout)
    if provider == "tencent":
        return _tencent_send(config, message, phone, timeout)
    return _gateway_send(config, message, phone, timeout)


def _aliyun_record(config: Mapping[str, object], message: Outgoing, sent_at: dt.datetime,
                   timeout: float) -> dict | bool | None:
    """Aliyun's record of ``message`` (found by our OutId among the number's messages of the day), False when it
    has none, None when it cannot tell."""
    if config.get("provider") != "aliyun" or check_config(config):
        return None
    try:
        phone = _mainland_mobile(message.to)
    except PermanentFailure:
        return None
    moment = clock.to_utc(sent_at).replace(tzinfo=dt.UTC)
    days = sorted({(moment + dt.timedelta(minutes=shift)).astimezone(BEIJING).strftime("%Y%m%d")
                   for shift in (0, 10)})
    try:
        for day in days:
            for page in range(1, _ALIYUN_MAX_PAGES + 1):
                data = _aliyun_call(config, "QuerySendDetails", {
                    "PhoneNumber": phone, "SendDate": day, "PageSize": str(_ALIYUN_PAGE_SIZE),
                    "CurrentPage": str(page)}, timeout)
                total = int(data.get("TotalCount") or 0)
                details = data.get("SmsSendDetailDTOs")
                items = details.get("SmsSendDetailDTO") if isinstance(details, dict) else None
                if items is None and total == 0:
                    items = []
                if not isinstance(items, list):
                    return None
                found = next((item for item in items
                              if isinstance(item, dict) and item.get("OutId") == message.key), None)
                if found is not None:
                    return found
                if not items or page * _ALIYUN_PAGE_SIZE >= total:
                    break
            else:
                return None  # more records than we read: it may be on a page not asked
    except (TemporaryFailure, PermanentFailure, OutcomeUnknown, ValueError, TypeError):
        return None
    return False


def query(config: Mapping[str, object], message: Outgoing, sent_at: dt.datetime, *,
          timeout: float = 10.0) -> bool | None:
    """Did the provider take ``message`` (whose outcome is unknown) after all? True when its records for the
    number on the day of ``sent_at`` hold our key, False when they hold no such key, None when it cannot tell.

    Only Aliyun can be asked (QuerySendDetails lists a number's messages of a day with the OutId we gave); Tencent
    keys its status reports by serial number, which an unanswered request never gave us, and gateways have no
    common way — both give None. ``sent_at`` is the store's wall time as ``clock.now()`` gives it (or an aware
    datetime); the day asked is its Beijing day, and the next one when the attempt was within minutes of midnight.
    Aliyun lists a message within seconds of taking it: a worker should ask a little while after the attempt, not
    at once, before taking False as "never sent". Any failure of the query itself is None.
    """
    found = _aliyun_record(config, message, sent_at, timeout)
    return None if found is None else found is not False


#: Aliyun's SendStatus of a message it took: 1 waiting for the carrier's receipt, 2 failed, 3 delivered
DELIVERY = {1: "waiting", 2: "undelivered", 3: "delivered"}


def delivery(config: Mapping[str, object], message: Outgoing, sent_at: dt.datetime, *,
             timeout: float = 10.0) -> str | None:
    """What the carrier reported for a message the provider took: "delivered", "undelivered" or "waiting"; None
    when the provider does not report it (Tencent and gateways push receipts instead) or cannot be asked now."""
    found = _aliyun_record(config, message, sent_at, timeout)
    if not isinstance(found, dict):
        return None
    try:
        return DELIVERY.get(int(found.get("SendStatus", 0)))
    except (TypeError, ValueError):
        return None


def idempotent(config: Mapping[str, object]) -> bool:
    """Whether sending the same message twice reaches the member once: true only for a gateway configured with
    ``idempotent = true`` (it de-duplicates by the key we send). Aliyun and Tencent send every request they
    take — the worker must ask :func:`query`, or leave an unknown outcome unknown."""
    return config.get("provider") == "http" and config.get("idempotent") is True


def check_config(config: Mapping[str, object]) -> list[str]:
    """Every missing or invalid SMS setting, one sentence each (``mms doctor`` prints them; the worker refuses
    to start SMS with any). Empty when the provider's settings are complete."""
    provider = config.get("provider")
    if provider not in PROVIDERS:
        return [_("SMS setting provider must be aliyun, tencent or http (it is {value}).").format(
            value=_shown(provider))]
    if provider == "aliyun":
        problems = _required(config, ("access_key_id", "access_key_secret", "sign_name"))
        problems += _url_problems(config, "endpoint", ALIYUN_ENDPOINT)
        problems += _optional_text(config, "region")
        return problems
    if provider == "tencent":
        problems = _required(config, ("secret_id", "secret_key", "sdk_app_id", "sign_name"))
        problems += _url_problems(config, "endpoint", TENCENT_ENDPOINT)
        problems += _optional_text(config, "region")
        order = config.get("param_order", {})
        if not isinstance(order, Mapping) or not all(
                isinstance(names, list) and all(isinstance(name, str) and name for name in names)
                for names in order.values()):
            problems.append(_("SMS setting param_order must be a table of template code = [parameter names…]."))
        return problems
    return _gateway_problems(config)


# --- configuration helpers --------------------------------------------------------------------------------------


def _shown(value: object) -> str:
    return _("missing") if value is None else repr(value)


def _required(config: Mapping[str, object], keys: Iterable[str]) -> list[str]:
    return [_("SMS setting {key} is missing.").format(key=key) for key in keys if not _text(config, key)]


def _optional_text(config: Mapping[str, object], key: str) -> list[str]:
    value = config.get(key)
    if value is None or (isinstance(value, str) and value.strip()):
        return []
    return [_("SMS setting {key} must be text.").format(key=key)]


def _url_problems(config: Mapping[str, object], key: str, default: str | None) -> list[str]:
    value = config.get(key, default)
    if value is None:
        return [_("SMS setting {key} is missing.").format(key=key)]
    parts = urllib.parse.urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return [_("SMS setting {key} must be an http:// or https:// address.").format(key=key)]
    return []


def _text(config: Mapping[str, object], key: str, default: str = "") -> str:
    value = config.get(key, default)
    return value.strip() if isinstance(value, str) else default


def _mainland_mobile(to: str) -> str:
    number = (to or "").strip()
    if not _MOBILE.fullmatch(number):
        raise PermanentFailure(_("not a mobile number"), code="not-a-mobile-number")
    return number


def _secrets(config: Mapping[str, object]) -> list[object]:
    return [config.get(key) for key in ("access_key_secret", "secret_key", "secret", "token", "password")]


# --- 阿里云 Alibaba Cloud SMS (dysmsapi 2017-05-25, RPC signature V1) --------------------------------------------


def percent_encode(value: str) -> str:
    """RFC 3986 as Aliyun's RPC signature wants it: UTF-8, only A–Z a–z 0–9 - _ . ~ left as they are, a space
    %20 (never +), * %2A, upper-case hex."""
    return urllib.parse.quote(value, safe="")


def aliyun_string_to_sign(params: Mapping[str, str], method: str = "POST") -> str:
    """``METHOD&%2F&percentEncode(canonicalized query)``: every parameter but Signature, sorted by name, each name
    and value percent-encoded, joined name=value with &."""
    canonical = "&".join(f"{percent_encode(name)}={percent_encode(value)}"
                         for name, value in sorted(params.items()) if name != "Signature")
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def aliyun_signature(params: Mapping[str, str], access_key_secret: str, method: str = "POST") -> str:
    """Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)) — Aliyun's RPC signature V1."""
    digest = hmac.new((access_key_secret + "&").encode("utf-8"),
                      aliyun_string_to_sign(params, method).encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


#: what each Aliyun code means to the operator, and whether trying later can help
_ALIYUN_CODES: dict[str, tuple[bool, str]] = {
    "isv.BUSINESS_LIMIT_CONTROL": (True, N_("too many messages to this number in a short time (flow control)")),
    "isv.DAY_LIMIT_CONTROL": (True, N_("the account's daily sending limit is reached")),
    "Throttling": (True, N_("the provider is throttling requests")),
    "Throttling.User": (True, N_("the provider is throttling this account's requests")),
    "Throttling.Api": (True, N_("the provider is throttling requests")),
    "isp.SYSTEM_ERROR": (True, N_("the provider had a system error")),
    "isp.GATEWAY_ERROR": (True, N_("the provider had a gateway error")),
    "InternalError": (True, N_("the provider had an internal error")),
    "ServiceUnavailable": (True, N_("the provider is unavailable for the moment")),
    "SignatureNonceUsed": (True, N_("the provider saw this request's nonce before")),
    "isv.MOBILE_NUMBER_ILLEGAL": (False, N_("the mobile number is not valid")),
    "isv.SMS_TEMPLATE_ILLEGAL": (False, N_("the template code is unknown or not approved")),
    "isv.SMS_SIGNATURE_ILLEGAL": (False, N_("the signature name (签名) is unknown or not approved")),
    "isv.SMS_SIGN_ILLEGAL": (False, N_("the signature name (签名) may not be used")),
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": (False, N_("the signature name (签名) does not fit this kind of template")),
    "InvalidAccessKeyId.NotFound": (False, N_("the AccessKey ID is unknown: check access_key_id")),
    "InvalidAccessKeyId.Inactive": (False, N_("the AccessKey is disabled")),
    "SignatureDoesNotMatch": (False, N_("the request signature does not match: check access_key_secret")),
    "IncompleteSignature": (False, N_("the request signature does not match: check access_key_secret")),
    "InvalidTimeStamp.Expired": (False, N_("the request's time is more than 15 minutes off: check this "
                                           "computer's clock")),
    "isv.AMOUNT_NOT_ENOUGH": (False, N_("the account balance is too low: top it up")),
    "isv.OUT_OF_SERVICE": (False, N_("the account is out of service (balance below zero)")),
    "isv.BLACK_KEY_CONTROL_LIMIT": (False, N_("the text contains words the provider blocks")),
    "isv.SMS_CONTENT_ILLEGAL": (False, N_("the text contains content the provider blocks")),
    "isv.TEMPLATE_MISSING_PARAMETERS": (False, N_("the template needs a parameter the message does not give")),
    "isv.TEMPLATE_PARAMS_ILLEGAL": (False, N_("a template parameter holds content the provider refuses")),
    "isv.INVALID_PARAMETERS": (False, N_("the provider found a parameter invalid")),
    "isv.INVALID_JSON_PARAM": (False, N_("the template parameters are not valid JSON")),
    "isv.PARAM_LENGTH_LIMIT": (False, N_("a template parameter is too long")),
    "isv.MOBILE_COUNT_OVER_LIMIT": (False, N_("too many numbers in one request")),
    "isv.ACCOUNT_NOT_EXISTS": (False, N_("the account does not exist")),
    "isv.ACCOUNT_ABNORMAL": (False, N_("the account is in an abnormal state")),
    "isv.PRODUCT_UN_SUBSCRIPT": (False, N_("SMS is not activated for this account")),
    "isv.PRODUCT_UNSUBSCRIBE": (False, N_("SMS is not activated for this account")),
    "isp.RAM_PERMISSION_DENY": (False, N_("the AccessKey has no permission for SMS (AliyunDysmsFullAccess)")),
    "isv.DENY_IP_RANGE": (False, N_("the provider refuses requests from this computer's region")),
}


def _aliyun_call(config: Mapping[str, object], action: str, params: Mapping[str, str], timeout: float) -> dict:
    """One signed RPC call; the answer when its Code is OK, a channel failure otherwise."""
    secret = _text(config, "access_key_secret")
    signed = {
        "AccessKeyId": _text(config, "access_key_id"),
        "Action": action,
        "Format": "JSON",
        "RegionId": _text(config, "region", ALIYUN_REGION),
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": uuid.uuid4().hex,
        "SignatureVersion": "1.0",
        "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "Version": ALIYUN_VERSION,
        **params,
    }
    signed["Signature"] = aliyun_signature(signed, secret, "POST")
    body = "&".join(f"{percent_encode(name)}={percent_encode(value)}" for name, value in signed.items())
    provider = _("Alibaba Cloud SMS")
    answer = http_exchange("POST", _text(config, "endpoint", ALIYUN_ENDPOINT), body=body.encode("ascii"),
                           headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
                           timeout=timeout, provider=provider)
    data = answer.json()
    if not isinstance(data, dict) or not isinstance(data.get("Code"), str):
        _unreadable(provider, answer)
    if data["Code"] == "OK":
        return data
    code = data["Code"]
    temporary, reason = _ALIYUN_CODES.get(code, (None, ""))
    if temporary is None:  # a code not in our table: the provider's own words, and the status decides
        temporary = answer.status >= 500 or answer.status == 429 or code.startswith("Throttling")
        explained = scrub(data.get("Message") or code, _secrets(config))
    else:
        explained = _(reason)
    text = _("Alibaba Cloud SMS: {reason} ({code}).").format(reason=explained, code=code)
    raise (TemporaryFailure if temporary else PermanentFailure)(text, code=code)


def _unreadable(provider: str, answer: HttpAnswer) -> NoReturn:
    """An answer that is not the provider's JSON (a proxy's page, an empty body): what the status allows to say."""
    if answer.status >= 500 or answer.status == 429:
        raise TemporaryFailure(_("{provider} answered HTTP {status}.").format(provider=provider, status=answer.status),
                               code=str(answer.status))
    if 200 <= answer.status < 300:
        raise OutcomeUnknown(_("{provider} answered HTTP {status} with nothing we can read: the message may have "
                               "gone out.").format(provider=provider, status=answer.status), code=str(answer.status))
    raise PermanentFailure(_("{provider} answered HTTP {status}.").format(provider=provider, status=answer.status),
                           code=str(answer.status))


def _aliyun_send(config: Mapping[str, object], message: Outgoing, phone: str, timeout: float) -> Sent:
    if not message.template_code:
        raise NotConfigured(_("Alibaba Cloud SMS needs an approved template code for this message."))
    params = {
        "PhoneNumbers": phone,
        "SignName": _text(config, "sign_name"),
        "TemplateCode": message.template_code,
        "OutId": message.key,
    }
    if message.params:
        params["TemplateParam"] = json.dumps(dict(message.params), ensure_ascii=False, separators=(",", ":"))
    data = _aliyun_call(config, "SendSms", params, timeout)
    return Sent(provider_id=str(data.get("BizId") or ""))


# --- 腾讯云 Tencent Cloud SMS (2021-01-11, TC3-HMAC-SHA256) ------------------------------------------------------


def _hmac_sha256(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def tc3_string_to_sign(*, service: str, host: str, timestamp: int, payload: bytes,
                       content_type: str = TENCENT_CONTENT_TYPE) -> str:
    """TC3-HMAC-SHA256's StringToSign of a POST to ``/`` whose signed headers are content-type and host: the
    algorithm, the timestamp, the credential scope (UTC date/service/tc3_request) and the SHA-256 of the
    canonical request (method, URI, empty query, the two headers lower-cased, their names, the payload's SHA-256)."""
    date = time.strftime("%Y-%m-%d", time.gmtime(timestamp))
    canonical_request = "\n".join([
        "POST", "/", "",
        f"content-type:{content_type.strip().lower()}\nhost:{host.strip().lower()}\n",
        "content-type;host",
        hashlib.sha256(payload).hexdigest(),
    ])
    return "\n".join(["TC3-HMAC-SHA256", str(timestamp), f"{date}/{service}/tc3_request",
                      hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()])


def tc3_authorization(secret_id: str, secret_key: str, *, service: str, host: str, timestamp: int, payload: bytes,
                      content_type: str = TENCENT_CONTENT_TYPE) -> str:
    """The Authorization header of TC3-HMAC-SHA256: the key derived from "TC3" + SecretKey through the date, the
    service and "tc3_request", then HMAC-SHA256 of the StringToSign in hex."""
    date = time.strftime("%Y-%m-%d", time.gmtime(timestamp))
    to_sign = tc3_string_to_sign(service=service, host=host, timestamp=timestamp, payload=payload,
                                 content_type=content_type)
    key = _hmac_sha256(("TC3" + secret_key).encode("utf-8"), date)
    key = _hmac_sha256(key, service)
    key = _hmac_sha256(key, "tc3_request")
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return (f"TC3-HMAC-SHA256 Credential={secret_id}/{date}/{service}/tc3_request, "
            f"SignedHeaders=content-type;host, Signature={signature}")


_TENCENT_CODES: dict[str, str] = {
    "AuthFailure.SignatureFailure": N_("the request signature does not match: check secret_key"),
    "AuthFailure.SecretIdNotFound": N_("the SecretId is unknown: check secret_id"),
    "AuthFailure.SignatureExpire": N_("the request's time is too far off: check this computer's clock"),
    "AuthFailure.InvalidSecretId": N_("the SecretId is not valid: check secret_id"),
    "AuthFailure.UnauthorizedOperation": N_("the key has no permission for SMS"),
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail": N_("the SDK app id does not belong to this account: check "
                                                      "sdk_app_id"),
    "InvalidParameterValue.SdkAppIdNotExist": N_("the SDK app id does not exist: check sdk_app_id"),
    "InvalidParameterValue.IncorrectPhoneNumber": N_("the mobile number is not valid"),
    "InvalidParameterValue.TemplateParameterFormatError": N_("a template parameter is in the wrong format"),
    "InvalidParameterValue.TemplateParameterLengthLimit": N_("a template parameter is too long"),
    "InvalidParameterValue.ContentLengthLimit": N_("the text is too long"),
    "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter": N_("a template parameter may not hold a link"),
    "FailedOperation.TemplateIncorrectOrUnapproved": N_("the template id is unknown, not approved or its "
                                                        "parameters do not match"),
    "FailedOperation.SignatureIncorrectOrUnapproved": N_("the signature name (签名) is unknown or not approved"),
    "FailedOperation.PhoneNumberInBlacklist": N_("the number is on the do-not-disturb list (the member "
                                                 "unsubscribed)"),
    "FailedOperation.InsufficientBalanceInSmsPackage": N_("the SMS package is used up: top it up"),
    "FailedOperation.ContainSensitiveWord": N_("the text contains words the provider blocks"),
    "FailedOperation.MarketingSendTimeConstraint": N_("marketing messages may not be sent at this hour"),
    "FailedOperation.PhoneNumberParseFail": N_("the mobile number could not be read"),
    "LimitExceeded.PhoneNumberDailyLimit": N_("this number has had its messages for today"),
    "LimitExceeded.PhoneNumberOneHourLimit": N_("this number has had its messages for this hour"),
    "LimitExceeded.PhoneNumberThirtySecondLimit": N_("this number had a message less than 30 seconds ago"),
    "LimitExceeded.PhoneNumberSameContentDailyLimit": N_("this number has had this text too often today"),
    "LimitExceeded.DeliveryFrequencyLimit": N_("the account's sending frequency limit is reached"),
    "LimitExceeded.AppDailyLimit": N_("the application's daily sending limit is reached"),
    "LimitExceeded.AppCountryOrRegionDailyLimit": N_("the daily limit for this region is reached"),
    "RequestLimitExceeded": N_("the provider is throttling requests"),
    "InternalError.Timeout": N_("the provider timed out handing the message on"),
    "InternalError": N_("the provider had an internal error"),
}


def _tencent_failure(config: Mapping[str, object], code: str, text: object, status: int) -> NoReturn:
    temporary = (code.startswith(("LimitExceeded.", "InternalError", "RequestLimitExceeded"))
                 and code != "LimitExceeded.PhoneNumberCountLimit") or status >= 500
    reason = _TENCENT_CODES.get(code)
    explained = _(reason) if reason else scrub(text or code, _secrets(config))
    message = _("Tencent Cloud SMS: {reason} ({code}).").format(reason=explained, code=code)
    raise (TemporaryFailure if temporary else PermanentFailure)(message, code=code)


def _tencent_param_set(config: Mapping[str, object], message: Outgoing) -> list[str]:
    """Tencent's template parameters are positional: the order the configuration names for the template, or the
    order of the message's own parameters when it names none."""
    order = config.get("param_order") or {}
    names = order.get(message.template_code) if isinstance(order, Mapping) else None
    if names is None:
        return [str(value) for value in message.params.values()]
    missing = [name for name in names if name not in message.params]
    if missing:
        raise PermanentFailure(_("Template {template} takes {names}; the message has no {missing}.").format(
            template=message.template_code, names=", ".join(names), missing=", ".join(missing)),
            code="missing-parameter")
    return [str(message.params[name]) for name in names]


def _tencent_send(config: Mapping[str, object], message: Outgoing, phone: str, timeout: float) -> Sent:
    if not message.template_code:
        raise NotConfigured(_("Tencent Cloud SMS needs an approved template id for this message."))
    endpoint = _text(config, "endpoint", TENCENT_ENDPOINT)
    host = urllib.parse.urlsplit(endpoint).netloc
    payload = json.dumps({
        "PhoneNumberSet": ["+86" + phone],
        "SmsSdkAppId": _text(config, "sdk_app_id"),
        "SignName": _text(config, "sign_name"),
        "TemplateId": message.template_code,
        "TemplateParamSet": _tencent_param_set(config, message),
        "SessionContext": message.key,
    }, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    timestamp = int(time.time())
    headers = {
        "Authorization": tc3_authorization(_text(config, "secret_id"), _text(config, "secret_key"), service="sms",
                                           host=host, timestamp=timestamp, payload=payload),
        "Content-Type": TENCENT_CONTENT_TYPE,
        "Host": host,
        "X-TC-Action": "SendSms",
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Version": TENCENT_VERSION,
        "X-TC-Region": _text(config, "region", TENCENT_REGION),
    }
    provider = _("Tencent Cloud SMS")
    answer = http_exchange("POST", endpoint, body=payload, headers=headers, timeout=timeout, provider=provider)
    data = answer.json()
    response = data.get("Response") if isinstance(data, dict) else None
    if not isinstance(response, dict):
        _unreadable(provider, answer)
    error = response.get("Error")
    if isinstance(error, dict):
        _tencent_failure(config, str(error.get("Code") or answer.status), error.get("Message"), answer.status)
    statuses = response.get("SendStatusSet")
    status = statuses[0] if isinstance(statuses, list) and statuses and isinstance(statuses[0], dict) else None
    if status is None:
        _unreadable(provider, answer)
    if status.get("Code") != "Ok":
        _tencent_failure(config, str(status.get("Code")), status.get("Message"), answer.status)
    return Sent(provider_id=str(status.get("SerialNo") or ""))


# --- a reseller's HTTP gateway ----------------------------------------------------------------------------------

#: what a gateway's body and header templates may name: the message and its template parameters, nothing else
GATEWAY_FIELDS = ("phone", "text", "key", "template_code", "sign_name")
_GATEWAY_PARAM = re.compile(r"param\.([A-Za-z0-9_]+)")


def _template_problem(where: str, template: object) -> str | None:
    """Why ``template`` cannot be a gateway template, or None. Placeholders are {phone}, {text}, {key},
    {template_code}, {sign_name} and {param.NAME} and nothing else: no conversion (!r), no format spec, no
    attribute or index — a configuration file must not reach into Python objects."""
    if not isinstance(template, str):
        return _("SMS gateway setting {where} must be text.").format(where=where)
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:
        return _("SMS gateway setting {where} has an unmatched brace (write {{{{ or }}}} for a brace itself).").format(
            where=where)
    for _literal, field, spec, conversion in parts:
        if field is None:
            continue
        if conversion is not None or spec or not (field in GATEWAY_FIELDS or _GATEWAY_PARAM.fullmatch(field)):
            shown = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            return _("SMS gateway setting {where}: {placeholder} is not allowed; use {{phone}}, {{text}}, {{key}}, "
                     "{{template_code}}, {{sign_name}} or {{param.NAME}}.").format(where=where, placeholder=shown)
    return None


def _render(template: str, values: Mapping[str, str], message: Outgoing) -> str:
    """The template with its placeholders filled by plain concatenation — never str.format on configuration."""
    out = []
    for literal, field, _spec, _conversion in string.Formatter().parse(template):
        out.append(literal)
        if field is None:
            continue
        param = _GATEWAY_PARAM.fullmatch(field)
        if param is None:
            out.append(values[field])
        elif param.group(1) in message.params:
            out.append(str(message.params[param.group(1)]))
        else:
            raise PermanentFailure(_("The SMS gateway's template needs parameter {name}, which this message does "
                                     "not have.").format(name=param.group(1)), code="missing-parameter")
    return "".join(out)


def _gateway_problems(config: Mapping[str, object]) -> list[str]:
    problems = _url_problems(config, "url", None)
    method = config.get("method", "POST")
    if method not in ("POST", "GET"):
        problems.append(_("SMS gateway setting method must be POST or GET."))
    if config.get("content_type", "form") not in ("form", "json"):
        problems.append(_("SMS gateway setting content_type must be form or json."))
    for table in ("body", "headers"):
        fields = config.get(table, {})
        if not isinstance(fields, Mapping) or (table == "body" and not fields):
            problems.append(_("SMS gateway setting {table} must be a table of name = template.").format(table=table))
            continue
        for name, template in fields.items():
            problem = _template_problem(f"{table}.{name}", template)
            if problem:
                problems.append(problem)
    has_field, has_value = "success_field" in config, "success_value" in config
    if has_field != has_value:
        problems.append(_("SMS gateway settings success_field and success_value go together."))
    for key in ("success_field", "id_field", "message_field", "sign_name"):
        if key in config and (not isinstance(config[key], str) or not config[key]):
            problems.append(_("SMS gateway setting {key} must be text.").format(key=key))
    if has_value and not isinstance(config["success_value"], str | int | bool):
        problems.append(_("SMS gateway setting success_value must be text or a number."))
    if "idempotent" in config and not isinstance(config["idempotent"], bool):
        problems.append(_("SMS gateway setting idempotent must be true or false."))
    return problems


def _json_path(data: object, path: str) -> object | None:
    """``a.b.c`` of a JSON object; None where the path leads nowhere."""
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _gateway_send(config: Mapping[str, object], message: Outgoing, phone: str, timeout: float) -> Sent:
    values = {"phone": phone, "text": message.text, "key": message.key, "template_code": message.template_code,
              "sign_name": _text(config, "sign_name")}
    fields = {name: _render(template, values, message) for name, template in config["body"].items()}
    headers = {name: _render(template, values, message) for name, template in config.get("headers", {}).items()}
    url = str(config["url"])
    method = config.get("method", "POST")
    body = None
    if method == "GET":
        parts = urllib.parse.urlsplit(url)
        query_string = "&".join(filter(None, [parts.query, urllib.parse.urlencode(fields)]))
        url = urllib.parse.urlunsplit(parts._replace(query=query_string))
    elif config.get("content_type", "form") == "json":
        body = json.dumps(fields, ensure_ascii=False).encode("utf-8")
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
    else:
        body = urllib.parse.urlencode(fields).encode("ascii")
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
    provider = _("The SMS gateway")
    answer = http_exchange(str(method), url, body=body, headers=headers, timeout=timeout, provider=provider)
    data = answer.json()
    said = _json_path(data, str(config.get("message_field", "msg"))) or _json_path(data, "message")
    secrets = [*_secrets(config), *headers.values()]
    detail = f" ({scrub(said, secrets)})" if said else ""
    if not 200 <= answer.status < 300:
        text = _("The SMS gateway answered HTTP {status}{detail}.").format(status=answer.status, detail=detail)
        if answer.status == 429 or answer.status >= 500:
            raise TemporaryFailure(text, code=str(answer.status))
        if 300 <= answer.status < 400:
            text = _("The SMS gateway answered HTTP {status} (a redirect): set url to the address it sends to.").format(
                status=answer.status)
        raise PermanentFailure(text, code=str(answer.status))
    if "success_field" in config:
        got = _json_path(data, str(config["success_field"]))
        if got is None:
            raise OutcomeUnknown(_("The SMS gateway answered without {field}: the message may have gone out.").format(
                field=config["success_field"]), code=str(answer.status))
        if _as_text(got) != _as_text(config["success_value"]):
            raise PermanentFailure(_("The SMS gateway refused the message: {field} is {value}{detail}.").format(
                field=config["success_field"], value=scrub(_as_text(got), secrets), detail=detail),
                code=scrub(_as_text(got), secrets))
    provider_id = _json_path(data, str(config["id_field"])) if "id_field" in config else None
    return Sent(provider_id="" if provider_id is None else _as_text(provider_id))
