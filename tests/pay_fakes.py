"""Local servers speaking WeChat Pay's v2 payment-code API and Alipay's open API as their documentation describes
them — every request's signature checked (the v2 MD5/HMAC-SHA256 signature; RSA2 with the app's public key), every
answer signed (the merchant key; Alipay's private key) — holding their orders as the providers do, so a test can
say what the customer's money did: :meth:`taken` is what a provider kept of a charge after reversals and refunds.

What a code does is scripted by the code itself (the test picks the code): see SCRIPTS."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mms_tui.services.payments import alipay as alipay_client
from mms_tui.services.payments.wechat_pay import from_xml, sign, to_xml

#: what a payment code does, by name; the test picks a code from CODES
#:  success — taken at once; paying — the customer confirms after two questions; paying_forever — never confirms;
#:  poor — refused, balance too low; error_paid — the provider says "system error" but took the money;
#:  error_unpaid — "system error", nothing taken; hang_paid — takes the money, then holds the answer until released
#:  (a desk killed meanwhile); drop_paid — takes the money and closes the connection without an answer
SCRIPTS = ("success", "paying", "paying_forever", "poor", "error_paid", "error_unpaid", "hang_paid", "drop_paid")
WECHAT_CODES = {name: f"13{n:02d}00000000000000"[:18] for n, name in enumerate(SCRIPTS)}
ALIPAY_CODES = {name: f"28{n:02d}000000000000000"[:18] for n, name in enumerate(SCRIPTS)}


@dataclass
class Order:
    out_trade_no: str
    fee: int
    script: str
    state: str  # SUCCESS, USERPAYING, NOTPAY, PAYERROR, REVOKED
    trade_no: str
    questions: int = 0
    refunds: dict[str, int] = field(default_factory=dict)
    #: the Beijing day the provider took it on (its bill's day), and each refund's
    day: str = field(default_factory=lambda: beijing_day())
    refund_days: dict[str, str] = field(default_factory=dict)


def beijing_day() -> str:
    """Today in Beijing (the providers' bills' days) by the product's clock, which tests pin."""
    from mms_tui import clock
    from mms_tui.services.payments.reconcile import BEIJING

    return clock.utc_now().astimezone(BEIJING).date().isoformat()


class _Fake:
    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.calls: list[tuple[str, dict]] = []
        self.bad_signatures = 0
        self.release = threading.Event()
        self.held = threading.Event()
        self.lock = threading.Lock()
        self.down = False
        self.hidden: set[str] = set()
        self.changed: dict[str, int] = {}
        self.strangers: list[Order] = []
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def bill_lines(self, day: str) -> list[tuple[str, Order, int, str]]:
        """(kind, order, fen, refund number) of the bill of ``day`` (YYYY-MM-DD or YYYYMMDD): each charge taken that
        day, kept or refunded, each refund made that day; what a test planted — ``hidden`` charges left out,
        ``changed`` amounts, ``strangers`` charged by no desk — included."""
        day = day if "-" in day else f"{day[:4]}-{day[4:6]}-{day[6:]}"
        lines = []
        for order in [*self.orders.values(), *self.strangers]:
            if order.out_trade_no in self.hidden or order.state not in ("SUCCESS",):
                continue
            if order.day == day:
                lines.append(("charge", order, self.changed.get(order.out_trade_no, order.fee), ""))
            lines += [("refund", order, fee, number) for number, fee in order.refunds.items()
                      if order.refund_days.get(number, order.day) == day]
        return lines

    def taken(self, out_trade_no: str | None = None) -> int:
        """What the provider keeps of a charge (every charge: None) after reversals and refunds, in fen."""
        orders = [self.orders[out_trade_no]] if out_trade_no else list(self.orders.values())
        return sum(o.fee - sum(o.refunds.values()) for o in orders if o.state == "SUCCESS")

    def _order(self, out_trade_no: str, fee: int, code: str, codes: dict[str, str]) -> Order:
        script = next((name for name, c in codes.items() if c == code), "success")
        state = {"success": "SUCCESS", "paying": "USERPAYING", "paying_forever": "USERPAYING", "poor": "PAYERROR",
                 "error_paid": "SUCCESS", "error_unpaid": "NOTPAY", "hang_paid": "SUCCESS",
                 "drop_paid": "SUCCESS"}[script]
        order = Order(out_trade_no, fee, script, state, f"T{len(self.orders) + 1:08d}")
        self.orders[out_trade_no] = order
        return order

    def _ask(self, order: Order) -> None:
        """A question about an order: a customer confirming ('paying') does so on the second question."""
        order.questions += 1
        if order.script == "paying" and order.state == "USERPAYING" and order.questions >= 2:
            order.state = "SUCCESS"

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                status, answer, _then = fake.answer(self.path, b"")
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer, then = fake.answer(self.path, body)
                if then == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if then == "hang":
                    fake.held.set()
                    fake.release.wait(30)
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        return Handler


class FakeWeChatPay(_Fake):
    """``/pay/micropay``, ``/pay/orderquery``, ``/secapi/pay/reverse``, ``/secapi/pay/refund`` of the v2 API."""

    def __init__(self, key: str = "0123456789abcdef0123456789abcdef", sign_type: str = "MD5") -> None:
        self.key, self.sign_type = key, sign_type
        self.answer_key = key  # what the answers are signed with (a test may forge them with another)
        self.appid, self.mch_id = "wx8888888888888888", "1900000109"
        super().__init__()

    def config(self, tmp_path, **more) -> dict:
        """The desk's [payments.wechat], with the merchant's API certificate (self-signed here) in files."""
        cert, key = _certificate(tmp_path)
        return {"appid": self.appid, "mch_id": self.mch_id, "key": self.key, "sign_type": self.sign_type,
                "url": self.url, "timeout": 2, "cert_file": cert, "key_file": key, **more}

    def _reply(self, fields: dict) -> bytes:
        fields = {"return_code": "SUCCESS", "return_msg": "OK", "appid": self.appid, "mch_id": self.mch_id,
                  "nonce_str": "n" * 16, **fields}
        if self.sign_type != "MD5":
            fields["sign_type"] = self.sign_type
        fields["sign"] = sign(fields, self.answer_key, self.sign_type)
        return to_xml(fields)

    def answer(self, path: str, body: bytes) -> tuple[int, bytes, str]:
        fields = from_xml(body) or {}
        with self.lock:
            self.calls.append((path, fields))
            if self.down:
                return 503, b"down", ""
            if fields.get("sign") != sign(fields, self.key, fields.get("sign_type") or "MD5") or \
                    fields.get("appid") != self.appid or fields.get("mch_id") != self.mch_id:
                self.bad_signatures += 1
                return 200, to_xml({"return_code": "FAIL", "return_msg": "签名错误"}), ""
            if path == "/pay/downloadbill":
                lines = self.bill_lines(fields["bill_date"])
                if not lines:
                    return 200, to_xml({"return_code": "FAIL", "return_msg": "No Bill Exist"}), ""
                return 200, self.bill_text(fields["bill_date"]).encode("utf-8"), ""
            out = fields.get("out_trade_no", "")
            order = self.orders.get(out)
            if path == "/pay/micropay":
                if order is not None:
                    code = "ORDERPAID" if order.state == "SUCCESS" else "OUT_TRADE_NO_USED"
                    return 200, self._reply({"result_code": "FAIL", "err_code": code, "err_code_des": code}), ""
                order = self._order(out, int(fields["total_fee"]), fields["auth_code"], WECHAT_CODES)
                if order.script in ("success",):
                    return 200, self._paid(order), ""
                if order.script in ("hang_paid", "drop_paid"):
                    return 200, self._paid(order), "hang" if order.script == "hang_paid" else "drop"
                err = {"paying": "USERPAYING", "paying_forever": "USERPAYING", "poor": "NOTENOUGH",
                       "error_paid": "SYSTEMERROR", "error_unpaid": "SYSTEMERROR"}[order.script]
                return 200, self._reply({"result_code": "FAIL", "err_code": err, "err_code_des": {
                    "USERPAYING": "需要用户输入支付密码", "NOTENOUGH": "余额不足", "SYSTEMERROR": "系统超时"}[err]}), ""
            if order is None:
                return 200, self._reply({"result_code": "FAIL", "err_code": "ORDERNOTEXIST",
                                         "err_code_des": "此交易订单号不存在"}), ""
            if path == "/pay/orderquery":
                self._ask(order)
                state = order.state if not order.refunds else "REFUND"
                return 200, self._reply({"result_code": "SUCCESS", "trade_state": state, "out_trade_no": out,
                                         "transaction_id": order.trade_no, "total_fee": str(order.fee),
                                         "trade_state_desc": state}), ""
            if path == "/secapi/pay/reverse":
                order.state = "REVOKED"  # taken money goes back; an unpaid order is closed
                return 200, self._reply({"result_code": "SUCCESS", "recall": "N"}), ""
            if path == "/secapi/pay/refund":
                number, fee = fields["out_refund_no"], int(fields["refund_fee"])
                if order.state != "SUCCESS" or int(fields["total_fee"]) != order.fee:
                    return 200, self._reply({"result_code": "FAIL", "err_code": "INVALID_REQUEST",
                                             "err_code_des": "订单状态错误"}), ""
                if number not in order.refunds:
                    if fee + sum(order.refunds.values()) > order.fee:
                        return 200, self._reply({"result_code": "FAIL", "err_code": "NOTENOUGH",
                                                 "err_code_des": "退款金额大于可退金额"}), ""
                    order.refunds[number] = fee
                    order.refund_days[number] = beijing_day()
                return 200, self._reply({"result_code": "SUCCESS", "out_refund_no": number,
                                         "refund_id": f"R{number[-8:]}", "refund_fee": str(order.refunds[number])}), ""
            return 404, b"", ""

    def bill_text(self, day: str) -> str:
        """The bill of type ALL as WeChat Pay writes it: every value after a backtick, fees at 0.6 %, the totals."""
        head = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
                "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
                "手续费,费率,订单金额,申请退款金额,费率备注")
        out = [head]
        when = f"{day[:4]}-{day[4:6]}-{day[6:]} 12:00:00"
        for kind, order, fen, number in self.bill_lines(day):
            yuan = alipay_client.yuan(fen)
            fee = alipay_client.yuan((fen * 6 + 500) // 1000)
            if kind == "charge":
                cells = [when, self.appid, self.mch_id, "0", "", order.trade_no, order.out_trade_no, "oUser", "MICROPAY",
                         "SUCCESS", "CMB_DEBIT", "CNY", yuan, "0.00", "0", "0", "0.00", "0.00", "", "", "剪发", "",
                         fee, "0.60%", yuan, "0.00", ""]
            else:
                cells = [when, self.appid, self.mch_id, "0", "", order.trade_no, order.out_trade_no, "oUser", "MICROPAY",
                         "REFUND", "CMB_DEBIT", "CNY", "0.00", "0.00", f"R{number[-8:]}", number, yuan, "0.00",
                         "ORIGINAL", "SUCCESS", "剪发", "", "-" + fee, "0.60%", "0.00", yuan, ""]
            out.append(",".join("`" + c for c in cells))
        out.append("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额")
        out.append(f"`{len(out) - 1},`0.00,`0.00,`0.00,`0.00,`0.00,`0.00")
        return "\r\n".join(out) + "\r\n"

    def _paid(self, order: Order) -> bytes:
        return self._reply({"result_code": "SUCCESS", "out_trade_no": order.out_trade_no,
                            "transaction_id": order.trade_no, "total_fee": str(order.fee),
                            "time_end": "20261206120000"})


def _certificate(folder) -> tuple[str, str]:
    """A self-signed API certificate and its key, as WeChat Pay's merchant platform hands out (apiclient_cert.pem,
    apiclient_key.pem)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "1900000109")])
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(start).not_valid_after(start + dt.timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    (folder / "apiclient_cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "apiclient_key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    return str(folder / "apiclient_cert.pem"), str(folder / "apiclient_key.pem")


def _key_pair() -> tuple[rsa.RSAPrivateKey, str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return key, private, public


class FakeAlipay(_Fake):
    """The gateway's ``alipay.trade.pay`` (scene bar_code), ``.query``, ``.cancel`` and ``.refund``."""

    def __init__(self) -> None:
        self.app_id = "2021000000000001"
        _app, self.app_private_pem, app_public_pem = _key_pair()
        self.app_public = alipay_client.load_public_key(app_public_pem)
        self.own_key, _private, self.alipay_public_pem = _key_pair()
        super().__init__()

    def config(self, tmp_path=None, **more) -> dict:
        found = {"app_id": self.app_id, "private_key": self.app_private_pem,
                 "alipay_public_key": self.alipay_public_pem, "url": self.url + "/gateway.do", "timeout": 2}
        if tmp_path is not None:  # the keys in files, as a shop keeps them
            (tmp_path / "app.key").write_text(self.app_private_pem)
            (tmp_path / "alipay.pub").write_text("".join(self.alipay_public_pem.splitlines()[1:-1]))  # bare base64
            del found["private_key"], found["alipay_public_key"]
            found.update(private_key_file=str(tmp_path / "app.key"), alipay_public_key_file=str(tmp_path / "alipay.pub"))
        return {**found, **more}

    def _reply(self, method: str, content: dict) -> bytes:
        text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        signature = base64.b64encode(self.own_key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
        name = method.replace(".", "_") + "_response"
        return f'{{"{name}":{text},"sign":"{signature}"}}'.encode()

    def bill_zip(self, day: str) -> bytes:
        """The day's bill as Alipay hands it out: a zip of GBK CSV files, the 业务明细 and its 汇总."""
        import zipfile

        head = ("支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,"
                "商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,"
                "商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注")
        lines = ["#支付宝业务明细查询", f"#账号：[{self.app_id}]", f"#起始日期：[{day} 00:00:00]", head]
        for kind, order, fen, number in self.bill_lines(day):
            yuan = alipay_client.yuan(fen)
            fee = alipay_client.yuan((fen * 6 + 500) // 1000)
            when = f"{day} 12:00:00"
            if kind == "charge":
                cells = [order.trade_no, order.out_trade_no, "交易", "剪发", when, when, "", "", "", "", "buyer", yuan,
                         yuan, "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00", "", "-" + fee, "0.00", ""]
            else:
                cells = [order.trade_no, order.out_trade_no, "退款", "剪发", when, when, "", "", "", "", "buyer",
                         "-" + yuan, "-" + yuan, "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00", number,
                         fee, "0.00", ""]
            lines.append(",".join(cells))
        lines += ["#-----------------------------------------业务明细列表结束------------------------------------",
                  "#交易合计：0笔，退款合计：0笔"]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(f"{self.app_id}_{day.replace('-', '')}_业务明细.csv",
                             "\r\n".join(lines).encode("gb18030"))
            archive.writestr(f"{self.app_id}_{day.replace('-', '')}_业务明细(汇总).csv", "#汇总".encode("gb18030"))
        return buffer.getvalue()

    def answer(self, path: str, body: bytes) -> tuple[int, bytes, str]:
        if path.startswith("/bill/"):
            return 200, self.bill_zip(path.removeprefix("/bill/").removesuffix(".zip")), ""
        params = dict(urllib.parse.parse_qsl(body.decode()))
        method = params.get("method", "")
        with self.lock:
            self.calls.append((method, params))
            if self.down:
                return 503, b"down", ""
            if params.get("app_id") != self.app_id or params.get("sign_type") != "RSA2" or not alipay_client.rsa2_verify(
                    alipay_client.signing_text(params), params.get("sign", ""), self.app_public):
                self.bad_signatures += 1
                return 200, json.dumps({"error_response": {"code": "40002", "msg": "Invalid Arguments",
                                                           "sub_code": "isv.invalid-signature",
                                                           "sub_msg": "验签出错"}}).encode(), ""
            biz = json.loads(params["biz_content"])
            if method == "alipay.data.dataservice.bill.downloadurl.query":
                if not self.bill_lines(biz["bill_date"]):
                    return 200, self._reply(method, {"code": "40004", "msg": "Business Failed",
                                                     "sub_code": "isp.bill_not_exist", "sub_msg": "账单不存在"}), ""
                url = f"{self.url}/bill/{biz['bill_date']}.zip"
                return 200, self._reply(method, {"code": "10000", "msg": "Success", "bill_download_url": url}), ""
            out = biz.get("out_trade_no", "")
            order = self.orders.get(out)
            reply = lambda content: self._reply(method, {"code": "10000", "msg": "Success", **content})  # noqa: E731
            failed = lambda sub, words, code="40004": self._reply(method, {  # noqa: E731
                "code": code, "msg": "Business Failed", "sub_code": sub, "sub_msg": words})
            if method == "alipay.trade.pay":
                assert biz["scene"] == "bar_code"
                fee = alipay_client.fen_of(biz["total_amount"])
                if order is not None:
                    return 200, failed("ACQ.TRADE_HAS_SUCCESS" if order.state == "SUCCESS" else
                                       "ACQ.CONTEXT_INCONSISTENT", "交易已存在"), ""
                order = self._order(out, fee, biz["auth_code"], ALIPAY_CODES)
                paid = {"trade_no": order.trade_no, "out_trade_no": out, "total_amount": biz["total_amount"]}
                if order.script == "success":
                    return 200, reply(paid), ""
                if order.script in ("hang_paid", "drop_paid"):
                    return 200, reply(paid), "hang" if order.script == "hang_paid" else "drop"
                if order.script in ("paying", "paying_forever"):
                    return 200, self._reply(method, {"code": "10003", "msg": "等待用户付款", "out_trade_no": out}), ""
                if order.script == "poor":
                    return 200, failed("ACQ.BUYER_BALANCE_NOT_ENOUGH", "买家余额不足"), ""
                return 200, failed("ACQ.SYSTEM_ERROR", "系统异常", code="20000"), ""
            if order is None:
                return 200, failed("ACQ.TRADE_NOT_EXIST", "交易不存在"), ""
            if method == "alipay.trade.query":
                self._ask(order)
                state = {"SUCCESS": "TRADE_SUCCESS", "USERPAYING": "WAIT_BUYER_PAY", "NOTPAY": "WAIT_BUYER_PAY",
                         "PAYERROR": "TRADE_CLOSED", "REVOKED": "TRADE_CLOSED"}[order.state]
                return 200, reply({"trade_no": order.trade_no, "out_trade_no": out, "trade_status": state,
                                   "total_amount": alipay_client.yuan(order.fee)}), ""
            if method == "alipay.trade.cancel":
                action = "refund" if order.state == "SUCCESS" else "close"
                order.state = "REVOKED"
                return 200, reply({"out_trade_no": out, "retry_flag": "N", "action": action}), ""
            if method == "alipay.trade.refund":
                number, fee = biz["out_request_no"], alipay_client.fen_of(biz["refund_amount"])
                if order.state != "SUCCESS":
                    return 200, failed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法"), ""
                if number not in order.refunds:
                    if fee + sum(order.refunds.values()) > order.fee:
                        return 200, failed("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限"), ""
                    order.refunds[number] = fee
                    order.refund_days[number] = beijing_day()
                return 200, reply({"trade_no": order.trade_no, "out_trade_no": out, "fund_change": "Y",
                                   "refund_fee": alipay_client.yuan(sum(order.refunds.values()))}), ""
            return 200, failed("isv.invalid-method", "不存在的方法名", code="40002"), ""


def wait_for(event: threading.Event, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not event.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert event.is_set()
