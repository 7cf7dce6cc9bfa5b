"""``mms messages``: the sending worker, what was sent to whom, the templates, campaigns (群发)."""

from __future__ import annotations

import click

from mms_tui.cli.common import acting_staff, open_database, settings_of
from mms_tui.cli.options import format_option, staff_options
from mms_tui.cli.output import write_rows
from mms_tui.i18n import _


@click.group("messages")
def messages_group() -> None:
    """Messages to members (消息): SMS, email, WeChat service notices from the outbox.

    \b
    The channels are set in the configuration file:
      [messages]          lang = "zh"
      [messages.email]    host, port, security (ssl|starttls|plain), username, password, sender, per_second
      [messages.sms]      provider = "aliyun" | "tencent" | "http", its keys, sign_name, per_second
      [messages.wechat]   app_id, app_secret
    Which triggers send, and the quiet hours of marketing, are the [messages] section of the loyalty rules.
    """


def _config(ctx: click.Context):
    from mms_tui.services.messages.worker import config_problems

    config = settings_of(ctx).messages
    problems = config_problems(config)
    if problems:
        raise click.ClickException(_("The messages settings cannot be used: {problems}").format(
            problems="; ".join(problems)))
    return config


@messages_group.command("run")
@click.option("--once", is_flag=True, help="Send what is due now and stop (for cron); else run until stopped.")
@click.option("--poll", "poll_seconds", type=click.FloatRange(0.1, 3600), default=5.0, show_default=True,
              help="Seconds between rounds when nothing is due.")
@click.pass_context
def messages_run(ctx: click.Context, once: bool, poll_seconds: float) -> None:
    """The sending worker (a systemd service, or cron with --once): writes the reminders that came due and sends
    the outbox, each message at most once."""
    import signal

    from mms_tui.services.messages.worker import Worker, only_worker

    config = _config(ctx)
    settings = settings_of(ctx)
    open_database(settings)
    worker = Worker(config)
    if not worker.channels:
        click.echo(_("No channel is set up in [messages]: nothing is sent; the messages wait."), err=True)
        return

    def stop(_signum, _frame) -> None:
        worker.stop.set()

    signal.signal(signal.SIGTERM, stop)

    def report(done) -> None:
        click.echo(_("sent {sent}, to retry {retry}, failed {failed}, unknown {unknown}, skipped {skipped}").format(
            sent=done.sent, retry=done.retry, failed=done.failed, unknown=done.unknown, skipped=done.skipped),
            err=True)

    with only_worker(settings.database) as alone:
        if not alone:
            click.echo(_("Another messages worker is running on this database; this one leaves it to that one."),
                       err=True)
            return
        try:
            worker.run(poll_seconds=poll_seconds, once=once, report=report)
        except KeyboardInterrupt:
            worker.stop.set()
        finally:
            worker.close()


def _rows(lines, with_text: bool):
    from mms_tui.services.base.text import clip

    for m in lines:
        row = {"id": m.id, "at": m.created_at.isoformat(" ", "minutes"), "trigger": m.trigger, "channel": m.channel,
               "state": m.state, "to": m.address, "parts": m.sms_parts or "", "tries": m.attempts,
               "reason": clip(m.reason, 60)}
        if with_text:
            row["text"] = m.text
        yield row


@messages_group.command("log")
@click.option("--member", metavar="PHONE|CARD", help="Everything written to this member (their data-access right).")
@click.option("--state", type=click.Choice(["queued", "sending", "sent", "failed", "unknown", "skipped"]),
              help="Only messages in this state.")
@click.option("--limit", type=click.IntRange(1, 100000), default=100, show_default=True,
              help="At most this many of the latest messages (without --member).")
@format_option()
@click.pass_context
def messages_log(ctx: click.Context, member: str | None, state: str | None, limit: int, fmt: str) -> None:
    """What was sent (or not, and why): a member's messages, or the latest of the outbox."""
    from mms_tui.services.members.profile import find_member
    from mms_tui.services.messages.queries import messages_of, outbox

    open_database(settings_of(ctx))
    by = acting_staff(None)  # read by the trusted account (whoever runs mms with the database's permissions)
    lines = messages_of(by, find_member(member).id) if member else outbox(by, state, limit=limit)
    if member and state:
        lines = [m for m in lines if m.state == state]
    if not write_rows(_rows(lines, bool(member)), fmt):
        click.echo(_("No messages."), err=True)


@messages_group.command("send-again")
@click.argument("message_id", type=int)
@staff_options("Manager who decides it did not arrive.")
@click.pass_context
def messages_send_again(ctx: click.Context, message_id: int, staff_code: str | None, pin_stdin: bool) -> None:
    """Put a message whose fate is unknown (or that failed) back in the outbox, once you know it did not arrive."""
    from mms_tui.services.messages.queries import send_again

    open_database(settings_of(ctx))
    line = send_again(acting_staff(staff_code, pin_stdin), message_id)
    click.echo(_("Message {id} is queued again.").format(id=line.id), err=True)


@messages_group.group("templates")
def templates_group() -> None:
    """What each trigger says, per channel and language (placeholders such as {name}, {amount}, {balance})."""


@templates_group.command("list")
@format_option()
@click.pass_context
def templates_list(ctx: click.Context, fmt: str) -> None:
    """Every trigger's wording in force, with its fields."""
    from mms_tui.services.messages.templates import FIELDS, templates

    open_database(settings_of(ctx))
    write_rows(({"trigger": t.trigger, "channel": t.channel, "lang": t.lang, "code": t.provider_code,
                 "active": "yes" if t.active else "no", "shipped": "yes" if t.default else "",
                 "subject": t.subject, "text": t.body, "fields": " ".join(FIELDS[t.trigger])}
                for t in templates()), fmt)


@templates_group.command("set")
@click.argument("trigger")
@click.argument("channel", type=click.Choice(["wechat", "sms", "email"]))
@click.argument("lang", type=click.Choice(["zh", "en"]))
@click.option("--text", "body", required=True, help="The wording, with {field} placeholders.")
@click.option("--subject", default="", help="The email's subject.")
@click.option("--code", "provider_code", default="", help="The provider's approved template code / WeChat template id.")
@click.option("--off", is_flag=True, help="Do not send this trigger on this channel.")
@staff_options("Manager who words it.")
@click.pass_context
def templates_set(ctx: click.Context, trigger: str, channel: str, lang: str, body: str, subject: str,
                  provider_code: str, off: bool, staff_code: str | None, pin_stdin: bool) -> None:
    """Word TRIGGER (balance, card_ending, points_expiring, birthday, coupon, booking) on CHANNEL in LANG; checked
    before it is saved, every problem named."""
    from mms_tui.services.messages.templates import save_template

    open_database(settings_of(ctx))
    save_template(acting_staff(staff_code, pin_stdin), trigger, channel, lang, body, subject=subject,
                  provider_code=provider_code, active=not off)
    click.echo(_("Template saved."), err=True)


@messages_group.command("campaign")
@click.argument("audience")
@click.option("--channel", type=click.Choice(["sms", "email"]), default="sms", show_default=True,
              help="How it goes (WeChat template messages may not carry marketing).")
@click.option("--text", "body", required=True, help="The wording: {name} and {store} may be used.")
@click.option("--subject", default="", help="The email's subject.")
@click.option("--code", "provider_code", default="", help="The SMS provider's approved marketing template code.")
@click.option("--name", default="", help="The campaign's name in its results (needed with --confirm).")
@click.option("--confirm", is_flag=True, help="Send it; without this, only show what would be sent.")
@staff_options("Manager who sends it.")
@format_option()
@click.pass_context
def messages_campaign(ctx: click.Context, audience: str, channel: str, body: str, subject: str, provider_code: str,
                      name: str, confirm: bool, staff_code: str | None, pin_stdin: bool, fmt: str) -> None:
    """群发 to AUDIENCE — segment:NAME (new, loyal, at_risk, lost…; due, running_out: prompts from the members'
    patterns), tag:NAME or file:PATH (phones, one a line):
    first the preview (members, those with consent, SMS parts, a sample), then again with --confirm."""
    from mms_tui.services.messages.campaigns import preview, send_campaign

    settings = settings_of(ctx)
    open_database(settings)
    config = settings.messages
    sign = str((config.get("sms") or {}).get("sign_name", "")) if channel == "sms" else ""
    lang = str(config.get("lang", "zh"))
    if confirm:
        if not name:
            raise click.UsageError(_("Name the campaign with --name."))
        campaign_id, shown = send_campaign(acting_staff(staff_code, pin_stdin), name, audience, channel, body,
                                           subject=subject, provider_code=provider_code, sign_name=sign, lang=lang)
    else:
        campaign_id, shown = None, preview(audience, channel, body, subject=subject, sign_name=sign, lang=lang)
    write_rows([{"audience": shown.audience, "channel": shown.channel, "members": shown.members,
                 "with_consent": shown.reachable, "sms_parts": shown.sms_parts, "sample_to": shown.sample_member,
                 "sample": shown.sample_text}], fmt)
    if shown.unknown_phones:
        click.echo(_("Not members: {phones}").format(phones=", ".join(shown.unknown_phones)), err=True)
    if campaign_id is None:
        click.echo(_("Nothing sent: add --confirm --name NAME to send it."), err=True)
    else:
        click.echo(_("Campaign {id}: {n} messages queued.").format(id=campaign_id, n=shown.reachable), err=True)


@click.group("tickets")
def tickets_group() -> None:
    """Service tickets (客户服务): a member's question, complaint or request, its notes and answers."""


def _ticket_rows(lines):
    for t in lines:
        yield {"id": t.id, "member": t.member_name, "kind": t.kind, "subject": t.subject, "status": t.status,
               "assigned": t.assigned_to, "due": t.due_at.isoformat(" ", "minutes"),
               "overdue": "!" if t.overdue else "", "source": t.source}


@tickets_group.command("list")
@click.option("--all", "everything", is_flag=True, help="Closed tickets too.")
@click.option("--overdue", is_flag=True, help="Only open tickets past their due time.")
@click.option("--assigned", metavar="STAFF", help="Only those assigned to this staff member.")
@click.option("--member", metavar="PHONE|CARD", help="Only this member's.")
@format_option()
@click.pass_context
def tickets_list(ctx: click.Context, everything: bool, overdue: bool, assigned: str | None, member: str | None,
                 fmt: str) -> None:
    """Open tickets, soonest due first."""
    from mms_tui.services.members.profile import find_member
    from mms_tui.services.messages.tickets import tickets

    open_database(settings_of(ctx))
    lines = tickets(status=None if everything else "open", overdue=overdue, assigned_to=assigned,
                    member=find_member(member).id if member else None)
    if not write_rows(_ticket_rows(lines), fmt):
        click.echo(_("No tickets."), err=True)


@tickets_group.command("open")
@click.argument("member", metavar="PHONE|CARD")
@click.argument("subject")
@click.option("--kind", type=click.Choice(["question", "complaint", "request"]), default="question",
              show_default=True, help="What the member brings.")
@click.option("--text", default="", help="What the member said, in their words.")
@click.option("--assign", metavar="STAFF", help="Give it to this staff member (a manager's decision; default: you).")
@click.option("--due-hours", type=int, help="Due this many hours from now (default: 4 for a complaint, 24 for a "
                                            "question, 48 for a request).")
@staff_options("Staff member who records it.")
@click.pass_context
def tickets_open(ctx: click.Context, member: str, subject: str, kind: str, text: str, assign: str | None,
                 due_hours: int | None, staff_code: str | None, pin_stdin: bool) -> None:
    """Record what a member asks or complains about."""
    from mms_tui.services.members.profile import find_member
    from mms_tui.services.messages.tickets import open_ticket

    open_database(settings_of(ctx))
    t = open_ticket(acting_staff(staff_code, pin_stdin), find_member(member), kind, subject, text, assign_to=assign,
                    due_hours=due_hours)
    click.echo(_("Ticket {id} opened, due {due}.").format(id=t.id, due=t.due_at.isoformat(" ", "minutes")), err=True)


@tickets_group.command("show")
@click.argument("ticket_id", type=int)
@format_option()
@click.pass_context
def tickets_show(ctx: click.Context, ticket_id: int, fmt: str) -> None:
    """A ticket and its history: what the member said, notes, answers sent (with their state), assignments."""
    from mms_tui.services.messages.tickets import history

    open_database(settings_of(ctx))
    t, notes = history(ticket_id)
    click.echo(f"#{t.id} {t.member_name} · {t.kind} · {t.subject} · {t.status}"
               f" · {_('due')} {t.due_at.isoformat(' ', 'minutes')}", err=True)
    write_rows(({"at": n.at.isoformat(" ", "minutes"), "kind": n.kind, "staff": n.staff, "text": n.text,
                 "message": n.message_state} for n in notes), fmt)


@tickets_group.command("note")
@click.argument("ticket_id", type=int)
@click.argument("text")
@click.option("--answer", is_flag=True, help="Send it to the member (by their channel, through the outbox).")
@staff_options("Staff member who writes it.")
@click.pass_context
def tickets_note(ctx: click.Context, ticket_id: int, text: str, answer: bool, staff_code: str | None,
                 pin_stdin: bool) -> None:
    """Add a note to a ticket, or with --answer answer the member."""
    from mms_tui.services.messages.tickets import add_note

    open_database(settings_of(ctx))
    add_note(acting_staff(staff_code, pin_stdin), ticket_id, text, answer=answer)
    click.echo(_("Answer queued.") if answer else _("Note added."), err=True)


@tickets_group.command("assign")
@click.argument("ticket_id", type=int)
@click.argument("to", metavar="STAFF")
@staff_options("Manager who assigns it.")
@click.pass_context
def tickets_assign(ctx: click.Context, ticket_id: int, to: str, staff_code: str | None, pin_stdin: bool) -> None:
    """Give a ticket to another staff member."""
    from mms_tui.services.messages.tickets import assign

    open_database(settings_of(ctx))
    assign(acting_staff(staff_code, pin_stdin), ticket_id, to)
    click.echo(_("Ticket {id} assigned to {staff}.").format(id=ticket_id, staff=to), err=True)


@tickets_group.command("close")
@click.argument("ticket_id", type=int)
@click.argument("resolution")
@staff_options("Staff member who closes it.")
@click.pass_context
def tickets_close(ctx: click.Context, ticket_id: int, resolution: str, staff_code: str | None,
                  pin_stdin: bool) -> None:
    """Close a ticket, saying how it was resolved."""
    from mms_tui.services.messages.tickets import close_ticket

    open_database(settings_of(ctx))
    close_ticket(acting_staff(staff_code, pin_stdin), ticket_id, resolution)
    click.echo(_("Ticket {id} closed.").format(id=ticket_id), err=True)


@tickets_group.command("mail")
@click.argument("file", type=click.File("rb"), default="-")
@click.pass_context
def tickets_mail(ctx: click.Context, file) -> None:
    """Take in a member's email (FILE, or standard input: a mail server's pipe, e.g. an alias
    "service: |mms tickets mail"): a reply to an answer joins its ticket, a new email opens a question."""
    from mms_tui.services.messages.tickets import from_email

    open_database(settings_of(ctx))
    raw = file.read(1_000_001)
    if len(raw) > 1_000_000:
        raise click.ClickException(_("The email is larger than 1 MB."))
    t = from_email(raw)
    click.echo(_("Ticket {id}: {subject}").format(id=t.id, subject=t.subject), err=True)
