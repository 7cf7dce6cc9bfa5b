"""What every sending channel (email, the SMS providers, WeChat) takes and answers: one message out, and either the
provider's own id for it or a failure that says whether trying again later can help.

A channel is a plain function ``send(config, message) -> Sent`` over a real protocol; the worker (worker.py) decides
when to call it, how often and what to record. Channels never touch the database and never print a secret: their
error messages name the provider's answer, never the credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Outgoing:
    """One message to one person, rendered."""

    #: our id for this message, the same on every attempt: sent as the provider's out-id / idempotency key /
    #: Message-ID so that a provider that keeps it can tell a resend from a new message
    key: str
    #: the address on this channel: a mainland mobile number (SMS), an email address, a WeChat openid
    to: str
    #: the text as the member reads it (SMS and the log; the body of an email)
    text: str
    subject: str = ""
    #: the provider's approved template (SMS template code, WeChat template id); empty for email and gateways that
    #: take free text
    template_code: str = ""
    #: the values the provider's template takes, by its placeholder names
    params: Mapping[str, str] = field(default_factory=dict)
    #: marketing (营销) rather than a service notice (通知): some providers bill or route them apart
    marketing: bool = False


@dataclass(frozen=True)
class Sent:
    """Accepted by the provider."""

    provider_id: str = ""  # the provider's id for the message (Aliyun BizId, Tencent SerialNo, WeChat msgid…)


class ChannelError(Exception):
    """The provider did not accept the message. ``message`` is one clear line for the log and the operator."""

    temporary = False

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code  # the provider's own error code, when it gave one

    def __str__(self) -> str:
        return self.message


class TemporaryFailure(ChannelError):
    """Worth trying again later: the provider is down, busy, throttling, or the network failed before an answer."""

    temporary = True


class PermanentFailure(ChannelError):
    """Trying again will not help: a wrong number, a template not approved, a bad credential, a blocked member."""


class NotConfigured(PermanentFailure):
    """The channel has no settings in the configuration file."""


class OutcomeUnknown(ChannelError):
    """The request may have reached the provider but no answer came back (a timeout after sending, a dropped
    connection): the member may have it. Never resent blindly (worker.py marks the message unknown) unless the
    channel can ask the provider or the provider de-duplicates by our key."""
