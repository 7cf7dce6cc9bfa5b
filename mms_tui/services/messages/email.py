"""Email over SMTP (smtplib): STARTTLS, SSL or plain, with a login when the server wants one.

One connection carries a batch (``Mailer``), so a campaign does not pay a TLS handshake per member. The message's
key is its Message-ID, which a receiving system can de-duplicate by; SMTP has no way to ask whether an earlier
attempt arrived, so a send cut off after the data was handed over is :class:`OutcomeUnknown`.

::

    [messages.email]
    host = "smtp.exmail.qq.com"
    port = 465                 # default: 465 for ssl, 587 for starttls, 25 for plain
    security = "ssl"           # ssl | starttls | plain
    username = "desk@shop.cn"
    password = "…"
    sender = "某某美容 <desk@shop.cn>"
    per_second = 20            # the worker's rate limit on this channel
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formataddr, parseaddr

from mms_tui.i18n import _
from mms_tui.services.messages.channel import (
    NotConfigured,
    OutcomeUnknown,
    Outgoing,
    PermanentFailure,
    Sent,
    TemporaryFailure,
)

SECURITY = ("ssl", "starttls", "plain")
_PORTS = {"ssl": 465, "starttls": 587, "plain": 25}


def check_config(config: Mapping[str, object]) -> list[str]:
    problems = []
    if not config.get("host"):
        problems.append(_("messages.email.host: the SMTP server is not set"))
    if config.get("security", "starttls") not in SECURITY:
        problems.append(_("messages.email.security: one of {choices}").format(choices=", ".join(SECURITY)))
    sender = str(config.get("sender", ""))
    if "@" not in parseaddr(sender)[1]:
        problems.append(_("messages.email.sender: an address such as \"Shop <desk@shop.cn>\""))
    if bool(config.get("username")) != bool(config.get("password")):
        problems.append(_("messages.email: give both username and password, or neither"))
    port = config.get("port", 0)
    if not isinstance(port, int) or not 0 <= port < 65536:
        problems.append(_("messages.email.port: a port number"))
    return problems


class Mailer:
    """An SMTP connection for a batch: opened at the first message, closed by :meth:`close` (or ``with``)."""

    def __init__(self, config: Mapping[str, object], *, timeout: float = 10.0,
                 tls_context: ssl.SSLContext | None = None) -> None:
        problems = check_config(config)
        if problems:
            raise NotConfigured("; ".join(problems))
        self.config = config
        self.timeout = timeout
        self.context = tls_context or ssl.create_default_context()
        self._smtp: smtplib.SMTP | None = None
        self._used = 0.0

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _connect(self) -> smtplib.SMTP:
        security = str(self.config.get("security", "starttls"))
        host = str(self.config["host"])
        port = int(self.config.get("port") or _PORTS[security])  # type: ignore[call-overload]
        try:
            if security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=self.timeout, context=self.context)
            else:
                smtp = smtplib.SMTP(host, port, timeout=self.timeout)
                if security == "starttls":
                    smtp.starttls(context=self.context)
            if self.config.get("username"):
                smtp.login(str(self.config["username"]), str(self.config["password"]))
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentFailure(_("The mail server refused the login ({code}).").format(code=exc.smtp_code),
                                   str(exc.smtp_code)) from None
        except smtplib.SMTPNotSupportedError:
            raise PermanentFailure(_("The mail server does not offer STARTTLS; set security to ssl or plain."),
                                   "starttls") from None
        except ssl.SSLError as exc:
            raise PermanentFailure(_("TLS with the mail server failed: {reason}").format(reason=exc.reason)) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryFailure(_("Cannot reach the mail server {host}:{port} ({reason}).").format(
                host=host, port=port, reason=type(exc).__name__)) from None
        return smtp

    def send(self, message: Outgoing) -> Sent:
        if "@" not in message.to:
            raise PermanentFailure(_("{address} is not an email address.").format(address=message.to))
        mail = EmailMessage()
        mail["From"] = self.config["sender"]
        mail["To"] = formataddr(("", message.to))
        mail["Subject"] = message.subject
        domain = parseaddr(str(self.config["sender"]))[1].rpartition("@")[2] or "localhost"
        message_id = f"<{message.key.replace(':', '.')}@{domain}>"
        mail["Message-ID"] = message_id
        if message.marketing:
            mail["List-Unsubscribe"] = f"<mailto:{parseaddr(str(self.config['sender']))[1]}?subject=unsubscribe>"
        mail.set_content(message.text)
        if self._smtp is not None and getattr(self._smtp, "sock", None) is None:
            self.close()  # the server closed it (a 421): a new connection, not an unknown outcome
        if self._smtp is not None and time.monotonic() - self._used > 5:
            try:  # an idle connection the server may have dropped: find out now, not halfway through a message
                self._smtp.noop()
            except (smtplib.SMTPException, OSError):
                self.close()
        if self._smtp is None:
            self._smtp = self._connect()
        self._used = time.monotonic()
        try:
            refused = self._smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            code, reason = next(iter(exc.recipients.values()))
            error = TemporaryFailure if 400 <= code < 500 else PermanentFailure
            raise error(_("The mail server refused {address}: {code} {reason}").format(
                address=message.to, code=code, reason=_reason(reason)), str(code)) from None
        except smtplib.SMTPSenderRefused as exc:
            self.close()
            error = TemporaryFailure if 400 <= exc.smtp_code < 500 else PermanentFailure
            raise error(_("The mail server refused the sender: {code} {reason}").format(
                code=exc.smtp_code, reason=_reason(exc.smtp_error)), str(exc.smtp_code)) from None
        except smtplib.SMTPDataError as exc:
            self.close()
            error = TemporaryFailure if 400 <= exc.smtp_code < 500 else PermanentFailure
            raise error(_("The mail server refused the message: {code} {reason}").format(
                code=exc.smtp_code, reason=_reason(exc.smtp_error)), str(exc.smtp_code)) from None
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
            self.close()
            raise OutcomeUnknown(_("The mail server stopped answering while taking the message ({reason}).").format(
                reason=type(exc).__name__)) from None
        if refused:
            raise PermanentFailure(_("The mail server refused {address}.").format(address=message.to))
        return Sent(message_id)


def _reason(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:200]
