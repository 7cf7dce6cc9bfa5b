"""SMS through Aliyun, Tencent and a reseller's gateway, against local stand-ins of each (message_servers.py), and
both signers against the worked examples the providers publish — so that a mistake shared by our signer and our
stand-in cannot pass."""

from __future__ import annotations

import datetime as dt
import hashlib
import socket
import time

import pytest

from mms_tui.services.messages import sms
from mms_tui.services.messages.channel import (
    NotConfigured,
    OutcomeUnknown,
    Outgoing,
    PermanentFailure,
    TemporaryFailure,
)
from tests.message_servers import (
    AliyunServer,
    GatewayServer,
    TencentServer,
    aliyun_expected_signature,
    tencent_expected_signature,
)

# --- the providers' published examples ---------------------------------------------------------------------------

#: 阿里云短信「HTTP协议及签名」(https://help.aliyun.com/document_detail/56189.html): its SendSms example, signed
#: for GET with AccessKeySecret testSecret, and the StringToSign and Signature printed there
ALIYUN_SMS_EXAMPLE = {
    "AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123", "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用", "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466", "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007", "TemplateParam": '{"customer":"test"}', "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}
ALIYUN_SMS_EXAMPLE_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123%26PhoneNumbers%3D15300000001"
    "%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF%25E9%2587%258C%25E4%25BA%2591%25E7%259F%25AD%25E4%25BF"
    "%25A1%25E6%25B5%258B%25E8%25AF%2595%25E4%25B8%2593%25E7%2594%25A8%26SignatureMethod%3DHMAC-SHA1"
    "%26SignatureNonce%3D45e25e9b-0a6f-4070-8c85-2956eda1b466%26SignatureVersion%3D1.0%26TemplateCode%3DSMS_71390007"
    "%26TemplateParam%3D%257B%2522customer%2522%253A%2522test%2522%257D%26Timestamp%3D2017-07-12T02%253A42%253A19Z"
    "%26Version%3D2017-05-25"
)
ALIYUN_SMS_EXAMPLE_SIGNATURE = "zJDF+Lrzhj/ThnlvIToysFRq6t4="

#: Aliyun's RPC「签名机制」example (DescribeRegions, AccessKeySecret testsecret, GET)
ALIYUN_RPC_EXAMPLE = {
    "Timestamp": "2016-02-23T12:46:24Z", "Format": "XML", "AccessKeyId": "testid", "Action": "DescribeRegions",
    "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "Version": "2014-05-26", "SignatureVersion": "1.0",
}
ALIYUN_RPC_EXAMPLE_SIGNATURE = "OLeaidS1JvxuMvnyHOwuJ+uX5qY="

#: Tencent Cloud「签名方法 v3」/ "Signature v3" (SMS API docs, https://www.tencentcloud.com/document/product/382/40467;
#: the same example on every product's page): DescribeInstances of cvm at 1551113065 with SecretKey
#: Gu5t9xGARNpq86cd98joQYCN3EXAMPLE, and the hashes and signature printed there
TENCENT_EXAMPLE_PAYLOAD = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
TENCENT_EXAMPLE_PAYLOAD_HASH = "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
TENCENT_EXAMPLE_STRING_TO_SIGN = ("TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
                                  "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031")
TENCENT_EXAMPLE_AUTHORIZATION = (
    "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, "
    "SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
)


def test_the_aliyun_signer_gives_the_sms_documentations_string_to_sign_and_signature():
    assert sms.aliyun_string_to_sign(ALIYUN_SMS_EXAMPLE, "GET") == ALIYUN_SMS_EXAMPLE_STRING_TO_SIGN
    assert sms.aliyun_signature(ALIYUN_SMS_EXAMPLE, "testSecret", "GET") == ALIYUN_SMS_EXAMPLE_SIGNATURE
    # the Signature itself never takes part, and POST differs from the example only by the method in front
    assert sms.aliyun_signature({**ALIYUN_SMS_EXAMPLE, "Signature": "x"}, "testSecret", "GET") == (
        ALIYUN_SMS_EXAMPLE_SIGNATURE)
    assert sms.aliyun_string_to_sign(ALIYUN_SMS_EXAMPLE, "POST") == "POST" + ALIYUN_SMS_EXAMPLE_STRING_TO_SIGN[3:]


def test_the_aliyun_signer_gives_the_rpc_documentations_signature():
    assert sms.aliyun_signature(ALIYUN_RPC_EXAMPLE, "testsecret", "GET") == ALIYUN_RPC_EXAMPLE_SIGNATURE


@pytest.mark.parametrize("text, encoded", [("a b", "a%20b"), ("*", "%2A"), ("~-_.", "~-_."), ("/=&+", "%2F%3D%26%2B"),
                                           ("会", "%E4%BC%9A")])
def test_aliyun_percent_encoding_is_rfc3986(text, encoded):
    assert sms.percent_encode(text) == encoded


def test_the_tc3_signer_gives_the_documentations_hashes_and_signature():
    assert hashlib.sha256(TENCENT_EXAMPLE_PAYLOAD).hexdigest() == TENCENT_EXAMPLE_PAYLOAD_HASH
    assert sms.tc3_string_to_sign(service="cvm", host="cvm.tencentcloudapi.com", timestamp=1551113065,
                                  payload=TENCENT_EXAMPLE_PAYLOAD) == TENCENT_EXAMPLE_STRING_TO_SIGN
    assert sms.tc3_authorization("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
                                 service="cvm", host="cvm.tencentcloudapi.com", timestamp=1551113065,
                                 payload=TENCENT_EXAMPLE_PAYLOAD) == TENCENT_EXAMPLE_AUTHORIZATION


def test_the_stand_ins_check_signatures_the_documented_way_too():
    """The servers below sign with code of their own: it must give the published values as well."""
    assert aliyun_expected_signature(ALIYUN_SMS_EXAMPLE, "testSecret", "GET") == (
        ALIYUN_SMS_EXAMPLE_STRING_TO_SIGN, ALIYUN_SMS_EXAMPLE_SIGNATURE)
    assert aliyun_expected_signature(ALIYUN_RPC_EXAMPLE, "testsecret", "GET")[1] == ALIYUN_RPC_EXAMPLE_SIGNATURE
    assert tencent_expected_signature(
        "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", signed_headers=["content-type", "host"],
        headers={"content-type": "application/json; charset=utf-8", "host": "cvm.tencentcloudapi.com"},
        date="2019-02-25", service="cvm", timestamp="1551113065", body=TENCENT_EXAMPLE_PAYLOAD,
    ) == TENCENT_EXAMPLE_AUTHORIZATION.rsplit("Signature=", 1)[1]


# --- fixtures ------------------------------------------------------------------------------------------------------

PHONE = "13800138000"


def message(key: str = "balance:tx-1001", to: str = PHONE, **overrides) -> Outgoing:
    fields = {"text": "【会员店】您的卡消费 50.00 元，余额 120.00 元。", "template_code": "SMS_1001",
              "params": {"amount": "50.00", "balance": "120.00", "store": "南山店"}}
    return Outgoing(key=key, to=to, **{**fields, **overrides})


@pytest.fixture
def aliyun():
    with AliyunServer(templates={"SMS_1001"}, sign_names={"会员店"}) as server:
        yield server


@pytest.fixture
def tencent():
    with TencentServer() as server:
        yield server


@pytest.fixture
def gateway():
    with GatewayServer() as server:
        yield server


def aliyun_config(server: AliyunServer, **overrides) -> dict:
    return {"provider": "aliyun", "access_key_id": server.access_key_id, "access_key_secret": server.access_key_secret,
            "sign_name": "会员店", "endpoint": server.url, **overrides}


def tencent_config(server: TencentServer, **overrides) -> dict:
    return {"provider": "tencent", "secret_id": server.secret_id, "secret_key": server.secret_key,
            "sdk_app_id": server.sdk_app_id, "sign_name": "会员店", "endpoint": server.url, **overrides}


def gateway_config(server: GatewayServer, **overrides) -> dict:
    return {"provider": "http", "url": server.url + "sms/send", "method": "POST", "content_type": "form",
            "body": {"mobile": "{phone}", "content": "{text}", "msgid": "{key}"},
            "headers": {"X-Api-Key": "gw-api-key-0001"},
            "success_field": "code", "success_value": "0", "id_field": "data.id", **overrides}


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def assert_no_secret(exc: BaseException, *secrets: str) -> None:
    for text in (str(exc), repr(exc), repr(exc.args)):
        for secret in secrets:
            assert secret not in text


# --- Aliyun ------------------------------------------------------------------------------------------------------


def test_aliyun_takes_a_message_with_its_number_template_parameters_and_our_key(aliyun):
    sent = sms.send(aliyun_config(aliyun), message())
    [got] = aliyun.received
    assert (got["phone"], got["out_id"], got["template_code"], got["sign_name"]) == (
        PHONE, "balance:tx-1001", "SMS_1001", "会员店")
    assert got["template_param"] == {"amount": "50.00", "balance": "120.00", "store": "南山店"}
    assert sent.provider_id == got["biz_id"]


def test_aliyun_with_a_wrong_secret_is_a_signature_failure_that_names_no_secret(aliyun):
    wrong = "wrong-secret-never-shown"
    with pytest.raises(PermanentFailure) as caught:
        sms.send(aliyun_config(aliyun, access_key_secret=wrong), message())
    assert caught.value.code == "SignatureDoesNotMatch"
    assert "signature" in caught.value.message.lower() and "access_key_secret" in caught.value.message
    assert_no_secret(caught.value, wrong, aliyun.access_key_secret)
    assert aliyun.received == []


def test_aliyun_with_an_unknown_key_id_says_so(aliyun):
    with pytest.raises(PermanentFailure, match="access_key_id") as caught:
        sms.send(aliyun_config(aliyun, access_key_id="LTAI-nobody"), message())
    assert caught.value.code == "InvalidAccessKeyId.NotFound"


@pytest.mark.parametrize("code, temporary, words", [
    ("isv.BUSINESS_LIMIT_CONTROL", True, "flow control"),
    ("Throttling.User", True, "throttling"),
    ("isp.SYSTEM_ERROR", True, "system error"),
    ("ServiceUnavailable", True, "unavailable"),
    ("isv.MOBILE_NUMBER_ILLEGAL", False, "mobile number"),
    ("isv.SMS_TEMPLATE_ILLEGAL", False, "template code"),
    ("isv.SMS_SIGNATURE_ILLEGAL", False, "signature name"),
    ("isv.AMOUNT_NOT_ENOUGH", False, "balance"),
    ("isv.BLACK_KEY_CONTROL_LIMIT", False, "blocks"),
    ("isv.TEMPLATE_MISSING_PARAMETERS", False, "parameter"),
    ("isv.SOMETHING_NEW", False, "isv.SOMETHING_NEW"),
])
def test_aliyun_error_codes_are_temporary_or_permanent_with_a_clear_line(aliyun, code, temporary, words):
    aliyun.fail_next(code)
    with pytest.raises(TemporaryFailure if temporary else PermanentFailure) as caught:
        sms.send(aliyun_config(aliyun), message())
    assert not isinstance(caught.value, OutcomeUnknown)
    assert caught.value.code == code and code in caught.value.message
    assert words.lower() in caught.value.message.lower() and "\n" not in caught.value.message
    assert aliyun.received == []


def test_aliyun_down_is_temporary(aliyun):
    aliyun.down = True
    with pytest.raises(TemporaryFailure, match="unavailable"):
        sms.send(aliyun_config(aliyun), message())


def test_an_unreachable_provider_is_temporary():
    with pytest.raises(TemporaryFailure, match="Could not reach") as caught:
        sms.send({**aliyun_config(AliyunServer()), "endpoint": closed_port_url()}, message())
    assert not isinstance(caught.value, OutcomeUnknown)


def test_aliyun_stalling_past_the_timeout_is_unknown_and_the_query_then_finds_it(aliyun):
    aliyun.stall_seconds = 5
    sent_at = dt.datetime.fromtimestamp(time.time(), dt.UTC)
    with pytest.raises(OutcomeUnknown, match="may have gone out"):
        sms.send(aliyun_config(aliyun), message(), timeout=0.5)
    assert [got["out_id"] for got in aliyun.received] == ["balance:tx-1001"]  # it did go out
    aliyun.stall_seconds = 0
    assert sms.query(aliyun_config(aliyun), message(), sent_at) is True


def test_aliyun_dropping_the_connection_after_the_request_is_unknown(aliyun):
    aliyun.drop_next()
    with pytest.raises(OutcomeUnknown):
        sms.send(aliyun_config(aliyun), message())
    assert len(aliyun.received) == 1


def test_the_aliyun_query_tells_a_message_sent_from_one_never_sent(aliyun):
    config = aliyun_config(aliyun)
    sent_at = dt.datetime.fromtimestamp(time.time(), dt.UTC)
    sms.send(config, message("balance:tx-1"))
    sms.send(config, message("balance:tx-2", to="13900139000"))
    assert sms.query(config, message("balance:tx-1"), sent_at) is True
    assert sms.query(config, message("balance:tx-3"), sent_at) is False  # same number, never sent
    assert sms.query(config, message("balance:tx-1", to="13900139000"), sent_at) is False  # sent, but elsewhere
    # a naive moment is the store's wall time, as the product's clock gives it
    assert sms.query(config, message("balance:tx-1"), sent_at.astimezone(sms.BEIJING).replace(tzinfo=None)) is True


def test_the_aliyun_query_reads_every_page(aliyun):
    config = aliyun_config(aliyun)
    for n in range(55):
        sms.send(config, message(f"campaign:7:{n}"))
    assert sms.query(config, message("campaign:7:54"), dt.datetime.fromtimestamp(time.time(), dt.UTC)) is True


def test_a_query_that_cannot_be_answered_is_none(aliyun, tencent, gateway):
    sent_at = dt.datetime.fromtimestamp(time.time(), dt.UTC)
    aliyun.down = True
    assert sms.query(aliyun_config(aliyun), message(), sent_at) is None
    assert sms.query(aliyun_config(aliyun, access_key_secret="wrong"), message(), sent_at) is None
    assert sms.query(tencent_config(tencent), message(), sent_at) is None
    assert sms.query(gateway_config(gateway), message(), sent_at) is None


@pytest.mark.parametrize("to", ["", "1380013800", "138001380001", "+8613800138000", "23800138000", "1380013800a",
                                "020-12345678"])
def test_anything_but_a_mainland_mobile_number_is_refused_before_sending(aliyun, tencent, gateway, to):
    for config, server in ((aliyun_config(aliyun), aliyun), (tencent_config(tencent), tencent),
                           (gateway_config(gateway), gateway)):
        with pytest.raises(PermanentFailure, match="not a mobile number"):
            sms.send(config, message(to=to))
        assert server.hits == 0


# --- Tencent -----------------------------------------------------------------------------------------------------


def test_tencent_takes_a_message_with_params_in_the_configured_order(tencent):
    config = tencent_config(tencent, param_order={"SMS_1001": ["store", "amount", "balance"]})
    sent = sms.send(config, message())
    [got] = tencent.received
    assert (got["phone"], got["session_context"], got["template_id"], got["sign_name"], got["sdk_app_id"]) == (
        "+86" + PHONE, "balance:tx-1001", "SMS_1001", "会员店", tencent.sdk_app_id)
    assert got["template_params"] == ["南山店", "50.00", "120.00"]
    assert sent.provider_id == got["serial_no"]


def test_tencent_params_follow_the_message_when_no_order_is_configured(tencent):
    sms.send(tencent_config(tencent), message())
    assert tencent.received[0]["template_params"] == ["50.00", "120.00", "南山店"]


def test_a_tencent_order_naming_a_parameter_the_message_lacks_is_permanent(tencent):
    config = tencent_config(tencent, param_order={"SMS_1001": ["amount", "points"]})
    with pytest.raises(PermanentFailure, match="points"):
        sms.send(config, message())
    assert tencent.hits == 0


def test_tencent_with_a_wrong_secret_is_a_signature_failure_that_names_no_secret(tencent):
    wrong = "wrong-tencent-secret-never-shown"
    with pytest.raises(PermanentFailure) as caught:
        sms.send(tencent_config(tencent, secret_key=wrong), message())
    assert caught.value.code == "AuthFailure.SignatureFailure"
    assert "signature" in caught.value.message.lower() and "secret_key" in caught.value.message
    assert_no_secret(caught.value, wrong, tencent.secret_key)
    assert tencent.received == []


@pytest.mark.parametrize("code, per_number, temporary, words", [
    ("LimitExceeded.PhoneNumberDailyLimit", True, True, "today"),
    ("LimitExceeded.PhoneNumberThirtySecondLimit", True, True, "30 seconds"),
    ("InvalidParameterValue.IncorrectPhoneNumber", True, False, "mobile number"),
    ("FailedOperation.PhoneNumberInBlacklist", True, False, "do-not-disturb"),
    ("FailedOperation.TemplateIncorrectOrUnapproved", False, False, "template"),
    ("FailedOperation.SignatureIncorrectOrUnapproved", False, False, "signature name"),
    ("FailedOperation.InsufficientBalanceInSmsPackage", False, False, "package"),
    ("AuthFailure.SecretIdNotFound", False, False, "secret_id"),
    ("InternalError.Timeout", False, True, "timed out"),
    ("RequestLimitExceeded", False, True, "throttling"),
    ("LimitExceeded.SomethingNew", False, True, "LimitExceeded.SomethingNew"),
])
def test_tencent_errors_are_temporary_or_permanent_with_a_clear_line(tencent, code, per_number, temporary, words):
    tencent.fail_next(code, per_number=per_number)
    with pytest.raises(TemporaryFailure if temporary else PermanentFailure) as caught:
        sms.send(tencent_config(tencent), message())
    assert not isinstance(caught.value, OutcomeUnknown)
    assert caught.value.code == code and code in caught.value.message
    assert words.lower() in caught.value.message.lower()


def test_tencent_down_is_temporary_and_a_stall_is_unknown(tencent):
    tencent.down = True
    with pytest.raises(TemporaryFailure, match="503"):
        sms.send(tencent_config(tencent), message())
    tencent.down = False
    tencent.stall_seconds = 5
    with pytest.raises(OutcomeUnknown):
        sms.send(tencent_config(tencent), message(), timeout=0.5)
    assert len(tencent.received) == 1


# --- a reseller's gateway ----------------------------------------------------------------------------------------


def test_a_gateway_gets_a_form_with_the_rendered_fields_and_headers(gateway):
    config = gateway_config(gateway, sign_name="会员店", body={
        "mobile": "{phone}", "content": "【{sign_name}】{text}", "msgid": "{key}", "tpl": "{template_code}",
        "vars": "{param.amount}/{param.balance}", "literal": "{{not a field}}"})
    sent = sms.send(config, message())
    [got] = gateway.received
    assert got["method"] == "POST" and got["path"] == "/sms/send"
    assert got["content_type"].startswith("application/x-www-form-urlencoded")
    assert got["fields"] == {"mobile": PHONE, "content": "【会员店】" + message().text, "msgid": "balance:tx-1001",
                             "tpl": "SMS_1001", "vars": "50.00/120.00", "literal": "{not a field}"}
    assert got["headers"]["x-api-key"] == "gw-api-key-0001"
    assert sent.provider_id == got["id"]


def test_a_gateway_gets_json_when_configured(gateway):
    sms.send(gateway_config(gateway, content_type="json"), message())
    [got] = gateway.received
    assert got["content_type"].startswith("application/json")
    assert got["fields"] == {"mobile": PHONE, "content": message().text, "msgid": "balance:tx-1001"}


def test_a_gateway_gets_a_query_string_by_get(gateway):
    sms.send(gateway_config(gateway, method="GET", url=gateway.url + "send?user=shop"), message())
    [got] = gateway.received
    assert got["method"] == "GET"
    assert got["fields"] == {"user": "shop", "mobile": PHONE, "content": message().text, "msgid": "balance:tx-1001"}


def test_a_gateway_without_a_success_field_succeeds_on_any_2xx(gateway):
    config = gateway_config(gateway)
    del config["success_field"], config["success_value"], config["id_field"]
    assert sms.send(config, message()).provider_id == ""
    assert len(gateway.received) == 1


def test_a_gateway_answering_another_code_is_a_permanent_refusal(gateway):
    gateway.fail_next("40001")
    with pytest.raises(PermanentFailure, match="code is 40001") as caught:
        sms.send(gateway_config(gateway), message())
    assert caught.value.code == "40001" and "rejected" in caught.value.message


@pytest.mark.parametrize("status, failure", [(500, TemporaryFailure), (503, TemporaryFailure),
                                             (429, TemporaryFailure), (400, PermanentFailure),
                                             (403, PermanentFailure)])
def test_gateway_http_statuses(gateway, status, failure):
    gateway.fail_next(status)
    with pytest.raises(failure) as caught:
        sms.send(gateway_config(gateway), message())
    assert not isinstance(caught.value, OutcomeUnknown) and str(status) in caught.value.message


def test_a_gateway_stall_is_unknown_and_an_unreachable_one_temporary(gateway):
    gateway.stall_seconds = 5
    with pytest.raises(OutcomeUnknown):
        sms.send(gateway_config(gateway), message(), timeout=0.5)
    with pytest.raises(TemporaryFailure) as caught:
        sms.send(gateway_config(gateway, url=closed_port_url()), message())
    assert not isinstance(caught.value, OutcomeUnknown)


def test_header_values_are_never_quoted_back(gateway):
    gateway.fail_next("bad key gw-api-key-0001")
    with pytest.raises(PermanentFailure) as caught:
        sms.send(gateway_config(gateway), message())
    assert_no_secret(caught.value, "gw-api-key-0001")


@pytest.mark.parametrize("template, shown", [
    ("{text.__class__}", "{text.__class__}"),
    ("{0}", "{0}"),
    ("{}", "{}"),
    ("{phone!r}", "{phone!r}"),
    ("{phone:>20}", "{phone:>20}"),
    ("{param[amount]}", "{param[amount]}"),
    ("{param.amount.real}", "{param.amount.real}"),
    ("{message}", "{message}"),
    ("{phone", "unmatched brace"),
])
def test_a_gateway_template_naming_anything_else_is_refused(gateway, template, shown):
    config = gateway_config(gateway, body={"mobile": "{phone}", "content": template})
    assert any(shown in problem for problem in sms.check_config(config))
    with pytest.raises(NotConfigured, match=r"body\.content") as caught:
        sms.send(config, message())
    assert shown in caught.value.message
    assert gateway.hits == 0


def test_a_header_template_is_held_to_the_same_rule(gateway):
    problems = sms.check_config(gateway_config(gateway, headers={"Authorization": "{text.__init__.__globals__}"}))
    assert problems and "headers.Authorization" in problems[0]


def test_a_template_parameter_the_message_lacks_is_permanent(gateway):
    with pytest.raises(PermanentFailure, match="points"):
        sms.send(gateway_config(gateway, body={"mobile": "{phone}", "n": "{param.points}"}), message())
    assert gateway.hits == 0


def test_an_idempotent_gateway_takes_a_resend_once(gateway):
    gateway.dedupe_field = "msgid"
    config = gateway_config(gateway, idempotent=True)
    first, again = sms.send(config, message()), sms.send(config, message())
    assert first.provider_id == again.provider_id and len(gateway.received) == 1


# --- settings ----------------------------------------------------------------------------------------------------


def test_only_a_gateway_configured_so_is_idempotent():
    assert sms.idempotent({"provider": "http", "idempotent": True}) is True
    assert sms.idempotent({"provider": "http"}) is False
    assert sms.idempotent({"provider": "http", "idempotent": "yes"}) is False
    assert sms.idempotent({"provider": "aliyun", "idempotent": True}) is False
    assert sms.idempotent({"provider": "tencent"}) is False


def test_check_config_names_every_missing_or_invalid_setting():
    assert sms.check_config({}) == ["SMS setting provider must be aliyun, tencent or http (it is missing)."]
    assert "'twilio'" in sms.check_config({"provider": "twilio"})[0]
    aliyun = " ".join(sms.check_config({"provider": "aliyun", "endpoint": "ftp://x"}))
    for key in ("access_key_id", "access_key_secret", "sign_name", "endpoint"):
        assert key in aliyun
    tencent = " ".join(sms.check_config({"provider": "tencent", "param_order": {"SMS_1": "amount"}}))
    for key in ("secret_id", "secret_key", "sdk_app_id", "sign_name", "param_order"):
        assert key in tencent
    gateway = " ".join(sms.check_config({"provider": "http", "method": "PUT", "content_type": "xml",
                                         "success_field": "code", "idempotent": "yes"}))
    for key in ("url", "method", "content_type", "body", "success_value", "idempotent"):
        assert key in gateway
    assert sms.check_config({"provider": "aliyun", "access_key_id": "a", "access_key_secret": "b",
                             "sign_name": "c"}) == []


def test_sending_without_settings_is_not_configured_and_sends_nothing():
    with pytest.raises(NotConfigured, match="access_key_secret"):
        sms.send({"provider": "aliyun", "access_key_id": "a", "sign_name": "c"}, message())
