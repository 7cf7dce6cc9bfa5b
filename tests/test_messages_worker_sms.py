"""The worker sending SMS through the providers' local stand-ins (tests/message_servers.py): the out-id that lets a
stopped worker ask Alibaba Cloud whether a message went, a gateway that de-duplicates by our key, and the rate
limit holding when a provider comes back after an outage."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from mms_tui import clock
from mms_tui.models import Message
from mms_tui.services.members.attributes import set_consent
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.messages import sms
from mms_tui.services.messages.channel import Outgoing
from mms_tui.services.messages.templates import save_template
from mms_tui.services.messages.worker import Worker
from mms_tui.services.money.topup import top_up
from tests.message_servers import AliyunServer, GatewayServer, TencentServer
from tests.test_messages_sms import aliyun_config, gateway_config, tencent_config


def _notices(desk, n: int) -> list[str]:
    """``n`` members who asked for balance notices, each topped up once: their phones."""
    phones = []
    for i in range(n):
        phone = f"1380013{i:04d}"
        m = register_member(f"会员{i}", phone, desk.cashier, f"r-{i}").member_id
        set_consent(m, desk.cashier, "notices", True)
        card = issue_card(m, "SV", desk.cashier, f"i-{i}", card_no=f"0009{i:04d}").card_id
        top_up(card, 10_000, 0, "cash", desk.cashier, f"t-{i}")
        phones.append(phone)
    return phones


def _stopped_mid_send(minutes: int = 30, provider: AliyunServer | None = None) -> None:
    """What a worker killed after it marked the messages "sending" leaves behind."""
    Message.update(state="sending", sent_channel="sms", attempts=1).execute()
    _attempted_before(minutes, provider)
    for row in Message.select():
        Message.update(address=row.member.phone, text="x").where(Message.id == row.id).execute()


def _attempted_before(minutes: int, provider: AliyunServer | None = None) -> None:
    """Every message attempted ``minutes`` ago — and, as Alibaba Cloud would have them, its records of the ones it
    took dated by that moment's day in Beijing (which the worker asks for): the test holds at any time of day,
    also when the moment is before Beijing's midnight and the test runs after it."""
    when = clock.now() - dt.timedelta(minutes=minutes)
    Message.update(attempted_at=when).execute()
    day = clock.to_utc(when).replace(tzinfo=dt.UTC).astimezone(sms.BEIJING).strftime("%Y%m%d")
    for item in provider.received if provider is not None else []:
        item["send_date"] = day


@pytest.fixture
def aliyun():
    with AliyunServer(templates={"SMS_1001"}, sign_names={"会员店"}) as server:
        yield server


def test_a_balance_notice_goes_to_alibaba_cloud_with_its_template_parameters_and_out_id(desk, aliyun):
    save_template(desk.manager, "balance", "sms", "zh", "{name}您好，您的会员卡{card}{what}{amount}元，余额{balance}元。",
                  provider_code="SMS_1001")
    (phone,) = _notices(desk, 1)
    done = Worker({"sms": aliyun_config(aliyun)}).run_round(reminders=False)
    assert done.sent == 1
    (got,) = aliyun.received
    row = Message.get()
    assert (got["phone"], got["out_id"], got["template_code"]) == (phone, row.key, "SMS_1001")
    params = got["template_param"]
    assert (params["amount"], params["balance"], params["what"]) == ("100.00", "100.00", "充值")
    assert row.state == "sent" and row.provider_id == got["biz_id"]
    assert row.text == "会员0您好，您的会员卡0000充值100.00元，余额100.00元。" and row.sms_parts == 1


def test_without_an_approved_template_code_an_sms_is_not_sent_and_says_why(desk, aliyun):
    _notices(desk, 1)
    done = Worker({"sms": aliyun_config(aliyun)}).run_round(reminders=False)
    assert done.skipped == 1 and aliyun.received == []
    assert "no sms template" in Message.get().reason


def test_a_stopped_workers_messages_are_asked_of_alibaba_cloud_sent_once_and_never_twice(desk, aliyun):
    save_template(desk.manager, "balance", "sms", "zh", "{name} {amount}", provider_code="SMS_1001")
    phones = _notices(desk, 2)
    went = Message.select().order_by(Message.id).first()
    # the first went out just before the worker died; the second never left
    sms.send(aliyun_config(aliyun), Outgoing(went.key, phones[0], "x", template_code="SMS_1001",
                                             params={"name": "a", "amount": "1"}))
    _stopped_mid_send(provider=aliyun)
    done = Worker({"sms": aliyun_config(aliyun)}).run_round(reminders=False)
    assert done.settled == 2 and done.sent == 0
    assert [r.state for r in Message.select().order_by(Message.id)] == ["sent", "queued"]  # found; not found
    Message.update(not_before=Message.created_at).execute()  # (after its wait)
    assert Worker({"sms": aliyun_config(aliyun)}).run_round(reminders=False).sent == 1
    assert sorted(r["phone"] for r in aliyun.received) == phones  # each once
    assert {r.state for r in Message.select()} == {"sent"}


def test_a_stopped_workers_message_to_tencent_cannot_be_asked_and_stays_unknown(desk):
    with TencentServer() as tencent:
        save_template(desk.manager, "balance", "sms", "zh", "{name} {amount}", provider_code="1001")
        _notices(desk, 1)
        _stopped_mid_send()
        done = Worker({"sms": tencent_config(tencent)}).run_round(reminders=False)
        assert done.settled == 1 and tencent.received == []
    row = Message.get()
    assert row.state == "unknown" and "cannot tell" in row.reason


def test_a_gateway_that_deduplicates_by_our_key_gets_an_unknown_message_again_safely(desk, monkeypatch):
    with GatewayServer(dedupe_field="msgid") as gateway:
        config = gateway_config(gateway, idempotent=True)
        _notices(desk, 1)
        gateway.stall_seconds = 3  # it takes the message, but the answer comes after we stopped waiting
        original = sms.send
        with monkeypatch.context() as patched:
            patched.setattr(sms, "send", lambda cfg, out, timeout=1.0: original(cfg, out, timeout=timeout))
            first = Worker({"sms": config}).run_round(reminders=False)
        assert first.retry == 1 and Message.get().state == "queued"
        gateway.stall_seconds = 0
        Message.update(not_before=Message.created_at).execute()
        assert Worker({"sms": config}).run_round(reminders=False).sent == 1
        assert len(gateway.received) == 1  # the second attempt was known to the gateway by its key


def test_a_provider_back_after_an_outage_gets_the_backlog_at_the_rate_limit(desk):
    with GatewayServer() as gateway:
        config = gateway_config(gateway, per_second=40)
        _notices(desk, 20)
        gateway.down = True
        done = Worker({"sms": config}).run_round(reminders=False)
        assert done.retry == 20 and gateway.received == []
        assert {r.state for r in Message.select()} == {"queued"}  # nothing lost
        gateway.down = False
        Message.update(not_before=Message.created_at).execute()
        began = time.monotonic()
        assert Worker({"sms": config}).run_round(reminders=False).sent == 20
        assert time.monotonic() - began >= 19 / 40  # no flood: 40 a second at most
        assert len(gateway.received) == 20


def test_the_carriers_receipts_are_read_from_alibaba_cloud_into_the_campaigns_results(desk, aliyun):
    from mms_tui.models import Member
    from mms_tui.services.loyalty.rules_store import save_rules
    from mms_tui.services.members.attributes import tag_member
    from mms_tui.services.messages.campaigns import send_campaign
    from mms_tui.services.reports.catalogue import run_report

    save_rules({"messages": {"quiet_hours": ""}}, desk.manager)
    for i in range(3):
        m = register_member(f"会员{i}", f"1390013{i:04d}", desk.cashier, f"r-{i}").member_id
        set_consent(m, desk.cashier, "sms", True)
        tag_member(m, desk.cashier, ["VIP"])
    assert Member.select().count() == 3
    campaign, _shown = send_campaign(desk.manager, "周末", "tag:VIP", "sms", "{name}您好，周末八折。",
                                     provider_code="SMS_1001", sign_name="会员店")
    worker = Worker({"sms": aliyun_config(aliyun)})
    assert worker.run_round(reminders=False).sent == 3
    keys = [r.key for r in Message.select().order_by(Message.id)]
    aliyun.statuses[keys[1]] = 2  # the carrier could not deliver the second
    aliyun.statuses[keys[2]] = 1  # nor has it said yet about the third
    assert worker.ask_deliveries() == 0  # not before two minutes have passed
    _attempted_before(5, aliyun)
    worker._asked_at = -60.0
    assert worker.ask_deliveries() == 2
    assert [r.delivery for r in Message.select().order_by(Message.id)] == ["delivered", "undelivered", "waiting"]
    (row,) = run_report("campaigns", start=clock.today(), end=clock.today())
    assert (row["campaign"], row["sent"], row["delivered"], row["undelivered"]) == (campaign, 3, 1, 1)
    assert row["sms_parts"] == 3


def test_no_answer_from_alibaba_cloud_is_asked_about_later_and_never_sent_twice(desk, aliyun, monkeypatch):
    save_template(desk.manager, "balance", "sms", "zh", "{name} {amount}", provider_code="SMS_1001")
    _notices(desk, 1)
    aliyun.stall_seconds = 3  # it takes the message, but its answer comes after we stopped waiting
    original = sms.send
    with monkeypatch.context() as patched:
        patched.setattr(sms, "send", lambda cfg, out, timeout=1.0: original(cfg, out, timeout=timeout))
        first = Worker({"sms": aliyun_config(aliyun)}).run_round(reminders=False)
    aliyun.stall_seconds = 0
    row = Message.get()
    assert first.unknown == 1 and row.state == "sending"  # not resent, not given up: to be asked
    _attempted_before(30, aliyun)
    again = Worker({"sms": aliyun_config(aliyun)}).run_round(reminders=False)
    assert again.settled == 1 and again.sent == 0
    assert Message.get().state == "sent" and len(aliyun.received) == 1
