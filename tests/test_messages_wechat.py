"""WeChat template messages against a local stand-in of the Official Account API (message_servers.WeChatServer):
the token fetched once and kept, renewed when WeChat rejects it, and each of WeChat's answers sorted."""

from __future__ import annotations

import pytest

from mms_tui.services.messages import wechat
from mms_tui.services.messages.channel import (
    NotConfigured,
    OutcomeUnknown,
    Outgoing,
    PermanentFailure,
    TemporaryFailure,
)
from tests.message_servers import WeChatServer

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
TEMPLATE = "ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY"


def message(key: str = "balance:tx-1001", to: str = OPENID, **overrides) -> Outgoing:
    fields = {"text": "您的卡消费 50.00 元", "template_code": TEMPLATE,
              "params": {"amount": "50.00", "balance": "120.00", "store": "南山店"}}
    return Outgoing(key=key, to=to, **{**fields, **overrides})


@pytest.fixture
def server():
    with WeChatServer(followers={OPENID, "oUpF8uN95-Ptaags6E9hcD5Ewc_A"}, templates={TEMPLATE}) as running:
        yield running


def config(server: WeChatServer, **overrides) -> dict:
    return {"app_id": server.app_id, "app_secret": server.app_secret, "endpoint": server.url.rstrip("/"),
            **overrides}


def test_a_template_message_reaches_the_member_with_its_fields(server):
    sent = wechat.send(config(server), message(), cache={})
    [got] = server.received
    assert (got["touser"], got["template_id"]) == (OPENID, TEMPLATE)
    assert got["data"] == {"amount": "50.00", "balance": "120.00", "store": "南山店"}
    assert sent.provider_id == str(got["msgid"])


def test_the_token_is_fetched_once_and_reused_across_sends(server):
    cache: dict = {}
    for n in range(3):
        wechat.send(config(server), message(f"balance:tx-{n}"), cache=cache)
    assert server.token_requests == 1 and len(server.received) == 3
    assert len({got["token"] for got in server.received}) == 1


def test_a_token_about_to_expire_is_not_used(server):
    server.token_lifetime = 1  # less than the safety margin: each send asks again
    cache: dict = {}
    wechat.send(config(server), message("a"), cache=cache)
    wechat.send(config(server), message("b"), cache=cache)
    assert server.token_requests == 2


def test_a_revoked_token_is_replaced_and_the_message_sent_once(server):
    cache: dict = {}
    wechat.send(config(server), message("a"), cache=cache)
    server.revoke_tokens()  # someone force-refreshed: ours answers 40001
    wechat.send(config(server), message("b"), cache=cache)
    assert server.token_requests == 2 and server.force_refreshes == 0
    assert [got["touser"] for got in server.received] == [OPENID, OPENID]
    assert server.received[0]["token"] != server.received[1]["token"]
    wechat.send(config(server), message("c"), cache=cache)
    assert server.token_requests == 2  # the new token is kept


def test_40001_for_a_token_wechat_still_hands_out_forces_a_refresh(server):
    cache: dict = {}
    wechat.send(config(server), message("a"), cache=cache)
    server.fail_next(40001)
    wechat.send(config(server), message("b"), cache=cache)
    assert server.force_refreshes == 1 and len(server.received) == 2


def test_an_expired_token_42001_is_renewed(server):
    cache: dict = {}
    wechat.send(config(server), message("a"), cache=cache)
    server.expire_tokens()
    wechat.send(config(server), message("b"), cache=cache)
    assert server.token_requests == 2 and len(server.received) == 2


def test_a_fresh_token_rejected_again_is_tried_only_once_more(server):
    server.fail_next(40001, times=3)
    with pytest.raises(TemporaryFailure, match="40001"):
        wechat.send(config(server), message(), cache={})
    # the token, the send, the same token again, a forced new one, the send again — and no third send
    assert server.received == [] and server.hits == 5 and server.force_refreshes == 1


@pytest.mark.parametrize("errcode, temporary, words", [
    (43004, False, "does not follow"),
    (40003, False, "openid"),
    (40037, False, "template id"),
    (47003, False, "template field"),
    (-1, True, "busy"),
    (45009, True, "quota"),
    (48999, False, "error 48999"),  # not in our table: WeChat's own words
])
def test_wechat_errors_are_temporary_or_permanent_with_a_clear_line(server, errcode, temporary, words):
    server.fail_next(errcode)
    with pytest.raises(TemporaryFailure if temporary else PermanentFailure) as caught:
        wechat.send(config(server), message(), cache={})
    assert not isinstance(caught.value, OutcomeUnknown)
    assert caught.value.code == str(errcode) and str(errcode) in caught.value.message
    assert words in caught.value.message


def test_the_servers_own_checks_give_the_same_answers(server):
    with pytest.raises(PermanentFailure, match="does not follow"):
        wechat.send(config(server), message(to="o-not-a-follower"), cache={})
    with pytest.raises(PermanentFailure, match="template id"):
        wechat.send(config(server), message(template_code="unknown-template"), cache={})


def test_a_wrong_secret_is_permanent_and_never_shown(server):
    wrong = "wrong-wechat-secret-never-shown"
    with pytest.raises(PermanentFailure, match="app_secret") as caught:
        wechat.send(config(server, app_secret=wrong), message(), cache={})
    for text in (str(caught.value), repr(caught.value)):
        assert wrong not in text and server.app_secret not in text
    assert server.received == []


def test_a_wrong_app_id_names_it(server):
    with pytest.raises(PermanentFailure, match="app_id"):
        wechat.send(config(server, app_id="wx-nobody"), message(), cache={})


def test_wechat_down_is_temporary(server):
    server.down = True
    with pytest.raises(TemporaryFailure, match="503") as caught:
        wechat.send(config(server), message(), cache={})
    assert not isinstance(caught.value, OutcomeUnknown)


def test_a_stalled_token_request_is_temporary_but_a_stalled_send_unknown(server):
    server.stall_seconds = 5
    with pytest.raises(TemporaryFailure) as caught:  # only the token was lost: nothing went to the member
        wechat.send(config(server), message(), cache={}, timeout=0.5)
    assert not isinstance(caught.value, OutcomeUnknown)
    server.stall_seconds = 0
    cache: dict = {}
    wechat.send(config(server), message("a"), cache=cache)
    server.stall_seconds = 5
    with pytest.raises(OutcomeUnknown, match="may have gone out"):
        wechat.send(config(server), message("b"), cache=cache, timeout=0.5)
    assert [got["touser"] for got in server.received] == [OPENID, OPENID]


def test_no_token_in_any_failure(server):
    cache: dict = {}
    wechat.send(config(server), message("a"), cache=cache)
    token = server.received[0]["token"]
    server.fail_next(49999)
    with pytest.raises(PermanentFailure) as caught:
        wechat.send(config(server), message("b"), cache=cache)
    assert token not in str(caught.value) and token not in repr(caught.value)


def test_check_config_names_what_is_missing():
    assert wechat.check_config({}) == ["WeChat setting app_id is missing.", "WeChat setting app_secret is missing."]
    assert wechat.check_config({"app_id": "wx1", "app_secret": "s", "endpoint": "api.weixin.qq.com"}) == [
        "WeChat setting endpoint must be an http:// or https:// address."]
    assert wechat.check_config({"app_id": "wx1", "app_secret": "s"}) == []
    with pytest.raises(NotConfigured, match="app_secret"):
        wechat.send({"app_id": "wx1"}, message(), cache={})


def test_a_member_without_an_openid_is_permanent(server):
    with pytest.raises(PermanentFailure, match="openid"):
        wechat.send(config(server), message(to=" "), cache={})
    assert server.hits == 0
