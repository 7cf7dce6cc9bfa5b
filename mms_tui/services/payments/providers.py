"""What every payment provider's client answers, whichever provider it is: an :class:`Answer` whose
:class:`Outcome` the charge (charge.py) acts on, and the settings both clients read.

The clients (wechat_pay.py, alipay.py) each speak their provider's documented API and sort its every answer into
one of these outcomes; nothing else of a provider's words leaves them but a short message for the operator, with
the merchant's secrets scrubbed out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from mms_tui.i18n import N_, _
from mms_tui.services.base.errors import DomainError, InvalidInput


class Outcome(StrEnum):
    #: the money was taken (for a refund: the refund was accepted)
    PAID = "paid"
    #: the customer is still confirming on their phone (entering a password): ask again shortly
    PAYING = "paying"
    #: nothing was taken and nothing will be: refused, closed, never made
    DECLINED = "declined"
    #: cancelled or reversed (撤销): whatever was taken is given back
    REVERSED = "reversed"
    #: the provider may or may not have acted: ask it (query), then reverse when in doubt
    UNKNOWN = "unknown"
    #: the provider never had the request (the network is down): nothing happened
    NOT_SENT = "not_sent"


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    #: the provider's number of the charge (or of the refund)
    trade_no: str = ""
    #: what the provider says it charged (or refunded), in fen, when it says
    amount_fen: int | None = None
    #: the provider's code for it (err_code, sub_code), empty on success
    code: str = ""
    #: a few words for the operator (the provider's own message), secrets scrubbed
    message: str = ""


class Provider(Protocol):
    """A payment provider's client. Every method answers; none raises for what the provider or the network did."""

    name: str

    def pay(self, out_trade_no: str, auth_code: str, amount_fen: int, subject: str) -> Answer: ...

    def query(self, out_trade_no: str) -> Answer: ...

    def cancel(self, out_trade_no: str) -> Answer: ...

    def refund(self, out_trade_no: str, out_refund_no: str, total_fen: int, refund_fen: int,
               reason: str) -> Answer: ...

    def bill(self, day) -> bytes: ...


#: how the desk names each provider (marked for translation)
PROVIDER_LABELS = {"wechat": N_("WeChat Pay"), "alipay": N_("Alipay")}

#: 付款码: WeChat Pay's are 18 digits from 10 to 15; Alipay's 16 to 24 digits from 25 to 30 (their documented ranges)
_WECHAT_CODE = re.compile(r"1[0-5][0-9]{16}")
_ALIPAY_CODE = re.compile(r"(2[5-9]|30)[0-9]{14,22}")


def provider_of_code(code: str) -> str:
    """Which provider a scanned payment code belongs to ("wechat" or "alipay"); InvalidInput, one line, for what is
    neither (a member card, a product's barcode, a code typed wrong)."""
    text = (code or "").strip()
    if _WECHAT_CODE.fullmatch(text):
        return "wechat"
    if _ALIPAY_CODE.fullmatch(text):
        return "alipay"
    raise InvalidInput(_("That is not a WeChat Pay or Alipay payment code: scan the code on the customer's phone "
                         "(18 digits from 10–15 for WeChat, 16–24 digits from 25–30 for Alipay)."))


def provider_label(name: str) -> str:
    return _(PROVIDER_LABELS.get(name, name))


def yuan(fen: int) -> str:
    """Fen as the providers write yuan: '12.30'."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def fen_of(text: object) -> int | None:
    """'12.30' (yuan, as Alipay writes it) as fen; None for anything else."""
    match = re.fullmatch(r"([0-9]+)(?:\.([0-9]{1,2}))?", str(text or "").strip())
    if match is None:
        return None
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def scrub(text: object, secrets: Iterable[object]) -> str:
    """``text`` on one line, at most 160 characters, each secret replaced by ***."""
    line = " ".join(str(text or "").split())
    for secret in secrets:
        if isinstance(secret, str) and len(secret) >= 4:
            line = line.replace(secret, "***")
    return line[:160]


def setting(config: Mapping[str, object], key: str, default: str = "") -> str:
    value = config.get(key, default)
    return str(value).strip() if value is not None else default


def read_secret_file(config: Mapping[str, object], key: str, what: str) -> str:
    """The text of the file the setting ``key`` names (a key file), or of the setting ``key`` without ``_file`` given
    inline; NotSetUp naming the setting — never its content — when neither is readable."""
    inline = setting(config, key.removesuffix("_file"))
    if inline:
        return inline
    path = setting(config, key)
    if not path:
        raise NotSetUp(_("{what}: set {key} in the [payments] settings.").format(what=what, key=key))
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise NotSetUp(_("{what}: cannot read {key} ({reason}).").format(
            what=what, key=key, reason=type(exc).__name__)) from None


class NotSetUp(InvalidInput):
    """A provider's settings are missing or unusable: a setting to fix, said without its value."""


class BillUnavailable(DomainError):
    """The provider's daily bill could not be had (none that day, not yet made, the network)."""

    code = "bill_unavailable"
