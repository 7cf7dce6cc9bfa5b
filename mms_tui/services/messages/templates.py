"""What each trigger says (消息模板): a manager's wording per trigger, channel and language, filled from a fixed set
of fields in a sandbox, and the SMS parts a text is billed as.

A template is plain text with ``{field}`` placeholders and nothing else: no attribute, index, conversion or format
spec, no field but the trigger's own (``{{`` and ``}}`` write a brace). It is checked on save with every problem
named, and filled by replacing placeholders with the given text, never by ``str.format`` — so a template cannot
reach anything but the values it is handed.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass

from mms_tui import clock
from mms_tui.db import write_transaction
from mms_tui.i18n import N_, _
from mms_tui.models import MESSAGE_CHANNELS, MESSAGE_TRIGGERS, MessageTemplate, Staff
from mms_tui.services.base.errors import InvalidInput, NotFound
from mms_tui.services.ledger.operations import audit
from mms_tui.services.staff.permissions import require

LANGS = ("zh", "en")
#: triggers that are marketing (营销): they need the member's consent on the channel, keep to the quiet hours, carry
#: the opt-out text by SMS, and never go by WeChat template message (WeChat's rules forbid marketing there)
MARKETING = frozenset({"birthday", "coupon", "campaign"})
TRIGGER_NAMES = {
    "balance": N_("balance changed (消费提醒)"), "card_ending": N_("card ending"),
    "points_expiring": N_("points expiring"), "birthday": N_("birthday greeting"), "coupon": N_("coupon issued"),
    "booking": N_("booking reminder"), "campaign": N_("campaign"), "ticket": N_("answer to a service ticket"),
}
_COMMON = ("name", "store")
#: the fields each trigger's template may use
FIELDS: dict[str, tuple[str, ...]] = {
    "balance": (*_COMMON, "what", "amount", "balance", "card", "time"),
    "card_ending": (*_COMMON, "card", "card_type", "ends", "days"),
    "points_expiring": (*_COMMON, "points", "expires"),
    "birthday": _COMMON,
    "coupon": (*_COMMON, "coupon", "expires"),
    "booking": (*_COMMON, "service", "staff", "time"),
    "campaign": _COMMON,
    "ticket": (*_COMMON, "subject", "text"),
}
#: appended to a marketing SMS that does not already say it (工信部: marketing SMS must tell how to refuse them)
OPT_OUT = {"zh": "拒收请回复R", "en": "Reply R to opt out"}
#: billed SMS parts: up to 70 characters (the 【signature】 included) is one message; a longer one is split into
#: parts of 67 (Alibaba Cloud and Tencent Cloud count alike, Chinese and Latin characters alike)
SINGLE, PART = 70, 67

DEFAULTS: dict[tuple[str, str], tuple[str, str]] = {
    ("balance", "zh"): ("会员卡变动提醒", "{name}您好，您的会员卡{card}于{time}在{store}{what}{amount}元，余额{balance}元。"),
    ("balance", "en"): ("Your card", "Dear {name}, card {card}: {what} ¥{amount} at {store} on {time}. Balance ¥{balance}."),
    ("card_ending", "zh"): ("会员卡到期提醒", "{name}您好，您的{card_type}（{card}）将于{ends}到期，还有{days}天，欢迎到{store}续卡。"),
    ("card_ending", "en"): ("Your card ends soon", "Dear {name}, your {card_type} ({card}) ends on {ends}, in {days} days. Renew at {store}."),
    ("points_expiring", "zh"): ("积分到期提醒", "{name}您好，您有{points}积分将于{expires}到期，请及时使用。"),
    ("points_expiring", "en"): ("Points expiring", "Dear {name}, {points} points expire on {expires}. Use them before then."),
    ("birthday", "zh"): ("生日快乐", "{name}，{store}祝您生日快乐！生日当月到店有惊喜。"),
    ("birthday", "en"): ("Happy birthday", "Happy birthday, {name}! A surprise waits for you at {store} this month."),
    ("coupon", "zh"): ("优惠券到账", "{name}您好，{coupon}已放入您的账户，{expires}前有效。"),
    ("coupon", "en"): ("A coupon for you", "Dear {name}, {coupon} is yours until {expires}."),
    ("booking", "zh"): ("预约提醒", "{name}您好，您预约了{time}在{store}的{service}（{staff}），期待您的光临。"),
    ("booking", "en"): ("Your booking", "Dear {name}, see you at {store} on {time} for {service} with {staff}."),
    ("campaign", "zh"): ("", "{name}您好，"),
    ("campaign", "en"): ("", "Dear {name}, "),
    ("ticket", "zh"): ("回复：{subject}", "{name}您好，{text}（{store}）"),
    ("ticket", "en"): ("Re: {subject}", "Dear {name}, {text} ({store})"),
}


def sms_parts(text: str, sign_name: str = "") -> int:
    """The parts a text is billed as, its 【signature】 included."""
    n = len(text) + (len(sign_name) + 2 if sign_name else 0)
    if n == 0:
        return 0
    return 1 if n <= SINGLE else math.ceil(n / PART)


def template_problems(body: str, trigger: str, subject: str = "") -> list[str]:
    """Every problem of a template, each named by where it is; empty when it is fine."""
    problems: list[str] = []
    allowed = FIELDS.get(trigger)
    if allowed is None:
        return [_("unknown trigger {value!r} (known: {known})").format(value=trigger, known=", ".join(FIELDS))]
    for place, text in ((_("subject"), subject), (_("text"), body)):
        try:
            parts = list(string.Formatter().parse(text))
        except ValueError as exc:
            problems.append(_("{place}: {problem} (write {{{{ and }}}} for a brace)").format(place=place, problem=exc))
            continue
        for _literal, field, spec, conversion in parts:
            if field is None:
                continue
            shown = "{" + field + ("!" + conversion if conversion else "") + (":" + spec if spec else "") + "}"
            if conversion or spec:
                problems.append(_("{place}: {field} — only plain {{field}} placeholders are allowed").format(
                    place=place, field=shown))
            elif field not in allowed:
                problems.append(_("{place}: {field} is not a field of this message (fields: {known})").format(
                    place=place, field=shown, known=", ".join(allowed)))
    if not body.strip():
        problems.append(_("text: say something"))
    return problems


def fill(text: str, values: dict[str, str]) -> str:
    """The text with each placeholder replaced by its value (a template that passed :func:`template_problems`);
    a placeholder with no value comes out empty."""
    out: list[str] = []
    for literal, field, _spec, _conversion in string.Formatter().parse(text):
        out.append(literal)
        if field is not None:
            out.append(str(values.get(field, "")))
    return "".join(out)


@dataclass(frozen=True)
class Template:
    trigger: str
    channel: str
    lang: str
    subject: str
    body: str
    provider_code: str
    active: bool
    #: the shipped wording, not saved by a manager
    default: bool


def template_for(trigger: str, channel: str, lang: str) -> Template | None:
    """The wording in force: the manager's, else the shipped one (none for WeChat, whose templates are the
    shop's own approved ones), else the other language's."""
    for language in dict.fromkeys((lang, *LANGS)):
        row = MessageTemplate.get_or_none((MessageTemplate.trigger == trigger) & (MessageTemplate.channel == channel)
                                          & (MessageTemplate.lang == language))
        if row is not None:
            return Template(row.trigger, row.channel, row.lang, row.subject, row.body, row.provider_code, row.active,
                            False)
    if channel == "wechat":
        return None
    subject, body = DEFAULTS[(trigger, lang if lang in LANGS else "zh")]
    return Template(trigger, channel, lang, subject, body, "", True, True)


def templates() -> list[Template]:
    """Every trigger on every channel, in both languages: what is in force."""
    found = []
    for trigger in MESSAGE_TRIGGERS:
        for channel in MESSAGE_CHANNELS:
            for lang in LANGS:
                t = template_for(trigger, channel, lang)
                if t is not None and t.lang == lang:
                    found.append(t)
    return found


def save_template(staff: Staff, trigger: str, channel: str, lang: str, body: str, *, subject: str = "",
                  provider_code: str = "", active: bool = True) -> Template:
    """Save a manager's wording, after checking it: every problem is named, nothing is saved while one stands."""
    require(staff, "messages.templates")
    problems = []
    if trigger not in MESSAGE_TRIGGERS:
        problems.append(_("unknown trigger {value!r} (known: {known})").format(
            value=trigger, known=", ".join(MESSAGE_TRIGGERS)))
    if channel not in MESSAGE_CHANNELS:
        problems.append(_("unknown channel {value!r} (known: {known})").format(
            value=channel, known=", ".join(MESSAGE_CHANNELS)))
    if lang not in LANGS:
        problems.append(_("unknown language {value!r} (known: {known})").format(value=lang, known=", ".join(LANGS)))
    if channel == "wechat" and trigger in MARKETING:
        problems.append(_("WeChat template messages are for service notices only; {trigger} is marketing").format(
            trigger=trigger))
    if channel == "wechat" and not provider_code:
        problems.append(_("a WeChat template needs the template id approved on the Official Account"))
    if len(provider_code) > 64 or len(subject) > 200 or len(body) > 2000:
        problems.append(_("too long: the template code up to 64 characters, the subject 200, the text 2000"))
    if trigger in FIELDS:
        problems += template_problems(body, trigger, subject)
    if problems:
        raise InvalidInput(_("The template cannot be saved: {problems}").format(problems="; ".join(problems)))
    with write_transaction():
        row = MessageTemplate.get_or_none((MessageTemplate.trigger == trigger) & (MessageTemplate.channel == channel)
                                          & (MessageTemplate.lang == lang))
        before = None if row is None else {"subject": row.subject, "body": row.body, "code": row.provider_code,
                                            "active": row.active}
        if row is None:
            row = MessageTemplate(trigger=trigger, channel=channel, lang=lang)
        row.subject, row.body, row.provider_code, row.active, row.updated_by = (
            subject, body, provider_code, active, staff)
        row.updated_at = clock.now()
        row.save()
        audit("message.template", f"template:{trigger}:{channel}:{lang}", staff=staff, store=None, payload={
            "before": before, "after": {"subject": subject, "body": body, "code": provider_code, "active": active}})
    found = template_for(trigger, channel, lang)
    if found is None:
        raise NotFound(_("The template was not saved."))
    return found
