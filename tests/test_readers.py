"""Readers as shops own them (#19): the parser defects a protocol audit found, each with bytes computed here from the
format's own definition (ISO 7811 LRC, GS1 check digits, Wiegand parity), the readers Chinese shops buy (Mifare UID
readers in either byte order, EM4100's printed "facility,card", Wiegand-26/34 with parity), one tag giving one
member whichever reader reads it, and property tests of every parser."""

from __future__ import annotations

import os
import queue
import re
import socket
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mms_tui.devices.protocols import (
    PROTOCOLS,
    canonical_uid,
    gtin_ok,
    make_parser,
    rdm6300_frame,
    uid_matches,
    wiegand_data,
    wiegand_frame,
)
from mms_tui.devices.reader import SerialReader
from tests.test_devices import Pty, values, wait_for

TAG = "0A1B2C3D4E"  # an EM4100 tag: version byte 0A, then 1B 2C 3D 4E


# --- formats computed from their definitions ------------------------------------------------------------------------


def gs1_check(data: str) -> str:
    """GS1 mod 10: weights 3, 1, 3 … from the right of the data digits."""
    total = 0
    for i, digit in enumerate(reversed(data)):
        total += int(digit) * (3 if i % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


def track2_lrc(track: str) -> str:
    """ISO 7811-2 track 2: each character is 4 data bits (its ASCII code - 0x30) plus parity; the LRC's data bits
    are the XOR of every character's, start and end sentinel included; sent as a character itself."""
    lrc = 0
    for ch in track:
        lrc ^= (ord(ch) - 0x30) & 0x0F
    return chr(0x30 + lrc)


def wiegand_bits(data: int, bits: int) -> str:
    """A Wiegand frame written out from the definition: leading even parity over the first half of the data bits,
    trailing odd parity over the second half."""
    payload = format(data, f"0{bits - 2}b")
    half = (bits - 2) // 2
    even = str(payload[:half].count("1") % 2)
    odd = str(1 - payload[half:].count("1") % 2)
    return even + payload + odd


def test_the_frames_this_file_computes_agree_with_the_parsers_helpers():
    assert gs1_check("690123456789") == "2" and gtin_ok("6901234567892") and not gtin_ok("6901234567893")
    for bits in (26, 34):
        for data in (0, 1, 0x7B3039, (1 << (bits - 2)) - 1):
            assert int(wiegand_bits(data, bits), 2) == wiegand_frame(data, bits)
            assert wiegand_data(wiegand_frame(data, bits), bits) == data


# --- barcode --------------------------------------------------------------------------------------------------------


def test_an_ean13_with_a_wrong_check_digit_or_a_letter_under_its_identifier_is_refused():
    good = "690123456789" + gs1_check("690123456789")
    wrong = good[:-1] + str((int(good[-1]) + 1) % 10)
    parser = make_parser("barcode")
    reads = parser.feed(f"]E0{wrong}\r\n]E069012345678A\r\n]E0{good}\r\n".encode())
    assert [(r.value, r.symbology) for r in reads] == [(good, "]E0")]
    assert parser.errors == 2


def test_an_ean8_is_checked_too_and_codes_without_a_check_digit_pass():
    ean8 = "9638507" + gs1_check("9638507")
    reads = make_parser("barcode").feed(f"]E4{ean8}\r\n]E412345678\r\n]C0ABC-123\r\n".encode())
    assert [(r.value, r.symbology) for r in reads] == [(ean8, "]E4"), ("ABC-123", "]C0")]


@pytest.mark.parametrize("framing", [b"\x00", b"\x02", b"\x00\x02"])
def test_a_control_byte_before_the_aim_prefix_keeps_the_symbology(framing):
    code = "690123456789" + gs1_check("690123456789")
    reads = make_parser("barcode").feed(framing + f"]E0{code}".encode() + b"\r\n")
    assert [(r.value, r.symbology) for r in reads] == [(code, "]E0")]


def test_a_scanner_framing_with_stx_and_etx_and_no_line_end():
    code = "690123456789" + gs1_check("690123456789")
    reads = make_parser("barcode").feed(f"\x02]E0{code}\x03\x02]C0ABC\x03".encode())
    assert [(r.value, r.symbology) for r in reads] == [(code, "]E0"), ("ABC", "]C0")]


@pytest.mark.parametrize("protocol", ["barcode", "line"])
def test_the_tail_of_an_overlong_line_is_not_read_as_a_code(protocol):
    parser = make_parser(protocol)
    assert parser.feed(b"7" * 5000) == []
    assert parser.feed(b"12345") == []
    assert parser.feed(b"678\r\n") == []  # the end of the overlong line: dropped with it
    assert values(parser.feed(b"ABC-1\r\n")) == ["ABC-1"]
    assert parser.errors == 1


# --- magstripe ------------------------------------------------------------------------------------------------------


def _pan_whose_lrc_is(wanted: str) -> str:
    for n in range(10_000):
        pan = f"621700{n:010d}"
        if track2_lrc(f";{pan}=2912?") == wanted:
            return pan
    raise AssertionError("no such PAN")


@pytest.mark.parametrize("sentinel", [";", "%"])
def test_an_lrc_byte_that_equals_a_start_sentinel_does_not_lose_the_next_swipe(sentinel):
    first = _pan_whose_lrc_is(";") if sentinel == ";" else "6217001234567890"
    track = f";{first}=2912?"
    lrc = track2_lrc(track) if sentinel == ";" else "%"
    parser = make_parser("magstripe")
    reads = parser.feed(f"{track}{lrc}\r\n".encode())
    reads += parser.feed(b";6222021234567894=3001?\r\n")
    assert values(reads) == [first, "6222021234567894"]


def test_tracks_sent_without_sentinels_are_read():
    parser = make_parser("magstripe")
    reads = parser.feed(b"6217001234567890=29121010000\r\n")
    reads += parser.feed(b"B6222021234567894^LI/SI^3001101\r\n")
    reads += parser.feed(b"88001234\r\n")
    assert values(reads) == ["6217001234567890", "6222021234567894", "88001234"]
    assert parser.errors == 0


def test_a_shop_made_track_2_with_only_a_number_is_read():
    assert values(make_parser("magstripe").feed(b";88001234?\r\n")) == ["88001234"]


def test_track_2_with_a_letter_in_its_data_is_refused():
    parser = make_parser("magstripe")
    assert parser.feed(b";6217001234567890=29AB?\r\n") == []
    assert parser.errors >= 1


# --- the reader thread: scans are not folded, the status after a reconnect --------------------------------------------


@pytest.mark.realclock
def test_the_same_product_scanned_twice_half_a_second_apart_is_two_scans(tmp_path):
    pty = Pty(tmp_path / "scanner")
    reads: queue.Queue = queue.Queue()
    reader = SerialReader(str(tmp_path / "scanner"), "barcode", reads.put, role="scanner").start()
    try:
        assert wait_for(lambda: reader.state == "connected")
        time.sleep(0.2)
        pty.write(b"]E06901234567892\r\n")
        time.sleep(0.5)
        pty.write(b"]E06901234567892\r\n")
        assert reads.get(timeout=5).value == reads.get(timeout=5).value == "6901234567892"
    finally:
        reader.stop()
        pty.close()


@pytest.mark.realclock
def test_a_card_held_on_the_reader_is_still_one_presentation(tmp_path):
    pty = Pty(tmp_path / "reader")
    reads: queue.Queue = queue.Queue()
    reader = SerialReader(str(tmp_path / "reader"), "rdm6300", reads.put).start()
    try:
        assert wait_for(lambda: reader.state == "connected")
        for _ in range(4):
            pty.write(rdm6300_frame(TAG))
            time.sleep(0.1)
        assert reads.get(timeout=5).value == TAG
        time.sleep(0.3)
        assert reads.empty()
    finally:
        reader.stop()
        pty.close()


@pytest.mark.realclock
def test_the_status_counts_reads_per_minute_and_forgets_the_error_once_connected_again(tmp_path):
    link = tmp_path / "reader"
    pty = Pty(link)
    statuses: list = []
    reader = SerialReader(str(link), "rdm6300", lambda r: None, statuses.append, max_backoff=0.3).start()
    try:
        assert wait_for(lambda: reader.state == "connected")
        pty.write(rdm6300_frame(TAG))
        assert wait_for(lambda: statuses and statuses[-1].reads_per_minute == 1)  # the title shows it at once
        pty.close()
        assert wait_for(lambda: any(s.state == "disconnected" and s.last_error for s in statuses))
        pty = Pty(link)
        assert wait_for(lambda: statuses[-1].state == "connected", timeout=10)
        assert statuses[-1].last_error == ""
    finally:
        reader.stop()
        pty.close()


@pytest.mark.realclock
def test_devices_watch_says_connected_without_the_previous_error_after_a_reconnect(tmp_path):
    import subprocess
    import sys

    link = tmp_path / "reader"
    pty = Pty(link)
    proc = subprocess.Popen([sys.executable, "-m", "mms_tui", "devices", "watch", str(link), "-p", "rdm6300",
                             "--seconds", "8"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2.0)
        pty.close()  # unplugged
        time.sleep(1.5)
        pty = Pty(link)  # and back
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        pty.close()
    lines = [line.split(" ", 1)[1] for line in err.splitlines() if re.match(r"\d\d:\d\d:\d\d ", line)]
    assert lines[0] == "connected"
    assert any(line.startswith("disconnected: ") for line in lines), err
    assert lines[-1] == "connected", err  # not "connected: <the error of the unplugging>"


# --- readers shops own ----------------------------------------------------------------------------------------------


def test_mifare_uid_readers_in_hex_and_decimal_and_either_byte_order():
    uid = bytes.fromhex("04A1B2C3")
    normal, reversed_ = int.from_bytes(uid, "big"), int.from_bytes(uid, "little")
    assert values(make_parser("mifare").feed(b"04a1b2c3\r\n" + f"{normal:010d}\r\n".encode())) == ["04A1B2C3"] * 2
    assert values(make_parser("mifare", "reversed").feed(f"{reversed_:010d}\r\n".encode())) == ["04A1B2C3"]
    assert values(make_parser("decimal", "reversed").feed(f"{reversed_:010d}\r\n".encode())) == ["04A1B2C3"]
    seven = bytes.fromhex("04112233445566")
    reads = make_parser("mifare").feed(b"04112233445566\r\n" + f"{int.from_bytes(seven, 'big')}\r\n".encode())
    assert values(reads) == ["04112233445566"] * 2
    parser = make_parser("mifare")
    assert parser.feed(b"04A1B2\r\n99999999999999999999\r\nXYZ\r\n") == [] and parser.errors == 3


def test_typed_and_keyboard_reader_forms_become_the_canonical_uid():
    assert canonical_uid("0455884110") == "1B2C3D4E"  # the decimal printed on an EM4100 card
    assert canonical_uid("044,15438") == "2C3C4E"  # its "facility,card" form: 0x2C = 44, 0x3C4E = 15438
    assert canonical_uid("０４５５８８４１１０") == "1B2C3D4E"  # full-width digits from an input method
    assert canonical_uid(f"{int.from_bytes(bytes.fromhex('04A1B2C3'), 'little'):010d}", "reversed") == "04A1B2C3"
    assert canonical_uid("0a1b2c3d4e") == TAG
    assert canonical_uid("256,1") is None and canonical_uid("4294967296") is None and canonical_uid("张三") is None


def test_wiegand_26_and_34_with_parity_checked():
    data26 = 0x2C3D4E
    frame = wiegand_bits(data26, 26)
    bad = frame[:-1] + ("1" if frame[-1] == "0" else "0")
    parser = make_parser("wiegand26")
    reads = parser.feed(f"{frame}\r\n{int(frame, 2):07X}\r\n2C3D4E\r\n{bad}\r\n".encode())
    assert values(reads) == ["2C3D4E"] * 3 and parser.errors == 1 and "parity" in parser.last_error
    data34 = 0x1B2C3D4E
    frame34 = wiegand_bits(data34, 34)
    bad34 = ("1" if frame34[0] == "0" else "0") + frame34[1:]
    parser = make_parser("wiegand34")
    reads = parser.feed(f"{frame34}\r\n{int(frame34, 2):09X}\r\n1B2C3D4E\r\n{bad34}\r\n".encode())
    assert values(reads) == ["1B2C3D4E"] * 3 and parser.errors == 1


def test_uids_of_different_lengths_match_on_the_bits_both_carry():
    assert uid_matches(TAG, "1B2C3D4E") and uid_matches("2C3D4E", TAG) and uid_matches(TAG, TAG)
    assert not uid_matches(TAG, "1B2C3D4F") and not uid_matches("0B1B2C3D4E", TAG)
    assert uid_matches("card-7", "card-7") and not uid_matches("card-7", "ard-7")


def _facility_form(hex6: str) -> str:
    return f"{int(hex6[:2], 16)},{int(hex6[2:], 16)}"


def test_one_tag_through_every_reader_type_is_one_member(regular):
    """The same EM4100 tag, given to a card as an RDM6300 reads it, found through every reader the shop may own."""
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.lookup import lookup
    from mms_tui.services.members.profile import register_member

    li = register_member("李四", "13912345678", regular.cashier, "r-li").member_id
    issue_card(li, "PT", regular.cashier, "i-li", reader_uid="0455884110")  # typed from the card's print
    reads = {
        "rdm6300": make_parser("rdm6300").feed(rdm6300_frame(TAG)),
        "decimal": make_parser("decimal").feed(b"0455884110\r\n"),
        "wiegand26": make_parser("wiegand26").feed(wiegand_bits(0x2C3D4E, 26).encode() + b"\r\n"),
        "wiegand34": make_parser("wiegand34").feed(f"{int(wiegand_bits(0x1B2C3D4E, 34), 2):09X}\r\n".encode()),
        "line": make_parser("line").feed(b"0455884110\r\n"),
    }
    typed = ["0455884110", _facility_form("2C3D4E"), TAG]  # a keyboard-mode reader, or someone typing
    for via, found in [*reads.items(), *(("typed", [type("R", (), {"value": t})]) for t in typed)]:
        assert len(found) == 1, via
        hits = [h for h in lookup(found[0].value) if h.match == "card"]
        assert [h.member_id for h in hits] == [li], via


def test_a_short_read_that_fits_two_cards_is_refused_with_a_clear_message(regular):
    from mms_tui.services.base.errors import AmbiguousCard
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.lookup import lookup
    from mms_tui.services.members.profile import register_member

    li = register_member("李四", "13912345678", regular.cashier, "r-li").member_id
    wang = register_member("王五", "13712345678", regular.cashier, "r-wang").member_id
    issue_card(li, "PT", regular.cashier, "i-li", reader_uid="0A1B2C3D4E")
    issue_card(wang, "PT", regular.cashier, "i-wang", reader_uid="0A1C2C3D4E")  # the same low 24 bits
    wiegand26 = make_parser("wiegand26").feed(b"2C3D4E\r\n")[0].value
    with pytest.raises(AmbiguousCard, match="fits 2 cards"):
        lookup(wiegand26)
    assert [h.member_id for h in lookup("0A1C2C3D4E") if h.match == "card"] == [wang]  # the whole tag: no doubt


def test_a_uid_another_cards_uid_could_be_is_refused_at_issue(regular):
    from mms_tui.services.base.errors import DuplicateCardNo
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.profile import register_member

    li = register_member("李四", "13912345678", regular.cashier, "r-li").member_id
    issue_card(li, "PT", regular.cashier, "i-li", reader_uid="0A1B2C3D4E")
    with pytest.raises(DuplicateCardNo, match="1B2C3D4E"):
        issue_card(li, "SV", regular.cashier, "i-li2", reader_uid="0455884110")  # the same tag's decimal


def test_migration_15_makes_stored_uids_canonical(sqlite_desk):
    from mms_tui.db import database
    from mms_tui.models import Card, SchemaVersion
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.profile import register_member
    from mms_tui.services.ops.setup import initialise

    zhang = register_member("张三", "13800138000", sqlite_desk.cashier, "r1").member_id
    card = issue_card(zhang, "PT", sqlite_desk.cashier, "i1", card_no="A1").card_id
    other = issue_card(zhang, "SV", sqlite_desk.cashier, "i2", card_no="A2").card_id
    database.execute_sql('UPDATE "card" SET "reader_uid" = ? WHERE "id" = ?', ("0455884110", card))
    database.execute_sql('UPDATE "card" SET "reader_uid" = ? WHERE "id" = ?', ("room-12", other))
    database.execute_sql('DROP INDEX "card_uid_tail"')
    database.execute_sql('ALTER TABLE "card" DROP COLUMN "uid_tail"')
    SchemaVersion.delete().where(SchemaVersion.version >= 15).execute()  # back to schema 14 (later ones redo)
    assert 15 in initialise().applied
    assert Card.get_by_id(card).reader_uid == "1B2C3D4E" and Card.get_by_id(card).uid_tail == "2C3D4E"
    assert Card.get_by_id(other).reader_uid == "room-12"
    from mms_tui.services.members.lookup import lookup

    assert [h.member_id for h in lookup(rdm6300_read(TAG)) if h.match == "card"] == [zhang]
    assert [h.member_id for h in lookup("room-12") if h.match == "card"] == [zhang]


def rdm6300_read(tag: str) -> str:
    return make_parser("rdm6300").feed(rdm6300_frame(tag))[0].value


# --- every parser, whatever arrives ---------------------------------------------------------------------------------


def _passes_its_check(protocol: str, read, stream: bytes) -> bool:
    """A read is one its format's own checks let through (the check recomputed here, not taken from the parser)."""
    value = read.value
    if protocol == "rdm6300":
        return bool(re.fullmatch(r"[0-9A-F]{10}", value)) and rdm6300_frame(value) in stream.upper()
    if protocol == "decimal":
        return bool(re.fullmatch(r"[0-9A-F]{8}", value))
    if protocol == "mifare":
        return bool(re.fullmatch(r"[0-9A-F]{8}|[0-9A-F]{14}", value))
    if protocol in ("wiegand26", "wiegand34"):
        bits = 26 if protocol == "wiegand26" else 34
        data = int(value, 16)
        forms = [wiegand_bits(data, bits), f"{int(wiegand_bits(data, bits), 2):0{(bits + 3) // 4}X}", value]
        text = stream.decode("utf-8", "replace").upper()
        return len(value) == (bits - 2) // 4 and any(f.upper() in text for f in forms)
    if protocol == "magstripe":
        return bool(re.fullmatch(r"\d{1,19}", value))
    if protocol == "barcode" and read.symbology in ("]E0", "]E4"):
        return value.isdigit() and gs1_check(value[:-1]) == value[-1]
    return bool(value) and value.isprintable()


STREAMS = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from([b"\x02", b"\x03", b"\r", b"\n", b"%", b";", b"?", b"=", b"^", b"B", b"]E0", b",",
                              b"0", b"1", b"9", b"A", b"F", b"\x00", b"\xff", rdm6300_frame(TAG)]),
             max_size=80).map(b"".join),
)


@settings(max_examples=300, deadline=None)
@given(data=STREAMS, protocol=st.sampled_from(sorted(PROTOCOLS)), order=st.sampled_from(["normal", "reversed"]))
def test_any_bytes_give_no_exception_and_only_reads_that_pass_their_formats_check(data, protocol, order):
    parser = make_parser(protocol, order)
    reads = parser.feed(data) + parser.feed(b"\r\n")
    for read in reads:
        if order == "reversed" and protocol in ("decimal", "mifare"):
            continue  # the bytes turned round: the form is checked with the normal order above
        assert _passes_its_check(protocol, read, data + b"\r\n"), (protocol, read, data)


GOOD_STREAMS = {
    "rdm6300": rdm6300_frame(TAG) + b"\x00junk" + rdm6300_frame("01DEADBEEF"),
    "decimal": b"0455884110\r\n0000000001\n",
    "mifare": b"04A1B2C3\r\n04112233445566\r\n",
    "wiegand26": wiegand_bits(0x2C3D4E, 26).encode() + b"\r\n7B3039\r\n",
    "wiegand34": wiegand_bits(0x1B2C3D4E, 34).encode() + b"\r\n",
    "magstripe": b"\x02%B6217001234567890^ZHANG/SAN^2912101?;6217001234567890=2912101?\x03\r\n;88001234?\r\n",
    "barcode": b"\x02]E06901234567892\x03]C0ABC\r\n",
    "line": b"00012345\r\nABC\n",
}


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_the_same_frames_split_at_every_byte_boundary_give_the_same_reads(protocol):
    stream = GOOD_STREAMS[protocol]
    whole = values(make_parser(protocol).feed(stream))
    assert whole
    for cut in range(1, len(stream)):
        parser = make_parser(protocol)
        assert values(parser.feed(stream[:cut]) + parser.feed(stream[cut:])) == whole, cut
    parser = make_parser(protocol)
    assert values([r for b in stream for r in parser.feed(bytes([b]))]) == whole


# --- RFC 2217: a local server bridging a pty -------------------------------------------------------------------------


class _Writer:
    """What PortManager writes its telnet negotiation to."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn

    def write(self, data: bytes) -> None:
        self.conn.sendall(data)


class Rfc2217Bridge:
    """A small RFC 2217 server (pyserial's PortManager, as its rfc2217_server example) bridging a pty's slave to a
    TCP port: what ser2net does on a counter PC."""

    def __init__(self, device: str) -> None:
        import serial
        import serial.rfc2217

        class PtyPort(serial.Serial):  # a pty has no modem lines: none set, none on
            cts = dsr = ri = cd = property(lambda self: False)

            def _update_dtr_state(self) -> None:
                pass

            def _update_rts_state(self) -> None:
                pass

        self.port = PtyPort(device, timeout=0.05)
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.address = self.server.getsockname()[1]
        self.stop = threading.Event()
        self.manager_class = serial.rfc2217.PortManager
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        self.server.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _addr = self.server.accept()
            except OSError:
                continue
            conn.settimeout(0.05)
            manager = self.manager_class(self.port, _Writer(conn))
            while not self.stop.is_set():
                data = self.port.read(64)
                if data:
                    conn.sendall(b"".join(manager.escape(data)))
                try:
                    incoming = conn.recv(1024)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not incoming:
                    break
                self.port.write(b"".join(manager.filter(incoming)))
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.server.close()
        self.port.close()


@pytest.mark.realclock
def test_a_reader_through_rfc2217_reads_cards():
    controller, device = os.openpty()
    bridge = Rfc2217Bridge(os.ttyname(device))
    reads: queue.Queue = queue.Queue()
    reader = SerialReader(f"rfc2217://127.0.0.1:{bridge.address}", "rdm6300", reads.put).start()
    try:
        assert wait_for(lambda: reader.state == "connected", timeout=10)
        deadline = time.monotonic() + 10
        while reads.empty() and time.monotonic() < deadline:
            os.write(controller, rdm6300_frame(TAG))
            time.sleep(0.3)
        assert reads.get(timeout=1).value == TAG
    finally:
        reader.stop()
        bridge.close()
        os.close(controller)
        os.close(device)


def test_the_desks_title_names_a_scanner_a_scanner_and_counts_its_reads(sqlite_desk):
    from mms_tui.app import create_app
    from mms_tui.devices.reader import ReaderStatus
    from mms_tui.i18n import set_language
    from mms_tui.settings import Settings

    app = create_app(Settings(db=sqlite_desk.target, lang="en"))
    set_language("en")
    app.device_states = {
        "/dev/ttyUSB0": ReaderStatus("/dev/ttyUSB0", "rdm6300", "connected", 3, 0, 3, "", "reader"),
        "/dev/ttyUSB1": ReaderStatus("/dev/ttyUSB1", "barcode", "disconnected", 7, 0, 5, "gone", "scanner"),
    }
    assert app.device_summary() == "●reader 3/min ○scanner 5/min"


# --- a serial reader's UID is the tag's, never guessed again ---------------------------------------------------------
# A serial reader's parser knows what it decoded: its read is the tag's canonical UID. Looking that up as if someone
# had typed it guessed its form again — ten hex digits that are all decimal digits (about 2 % of EM4100 tags) were
# taken for the decimal a USB reader prints, and an 8-digit Mifare UID was put in the reader's byte order twice.


async def _swiped_member(desk, read, **settings) -> int | None:
    from mms_tui.screens.member import MemberScreen
    from tests.test_tui import at_desk, settle

    async with at_desk(desk, **settings) as (app, pilot):
        app.offer_read(read)
        await settle(pilot)
        await settle(pilot)
        return app.screen.member_id if isinstance(app.screen, MemberScreen) else None


async def test_an_em4100_tag_whose_hex_is_all_digits_opens_its_own_member(regular):
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.profile import register_member

    li = register_member("李四", "13912345678", regular.cashier, "r-li").member_id
    wang = register_member("王五", "13712345678", regular.cashier, "r-wang").member_id
    issue_card(li, "PT", regular.cashier, "i-li", reader_uid=f"{0x12345678:010d}")  # typed from the card's print
    issue_card(wang, "PT", regular.cashier, "i-wang", reader_uid="06B2424E")  # another tag: 112345678 in hex
    [read] = make_parser("rdm6300").feed(rdm6300_frame("0112345678"))
    assert read.value == "0112345678"
    assert await _swiped_member(regular, read) == li  # was 王五's screen


async def test_a_mifare_reader_that_prints_reversed_finds_the_card_typed_from_its_print(regular):
    from mms_tui.services.base import resolve
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.profile import register_member

    li = register_member("李四", "13912345678", regular.cashier, "r-li").member_id
    printed = f"{int.from_bytes(bytes.fromhex('04A1B2C3'), 'little'):010d}"  # what the 反码 reader prints
    resolve.set_uid_byte_order("reversed")
    try:
        issue_card(li, "PT", regular.cashier, "i-li", reader_uid=printed)
    finally:
        resolve.set_uid_byte_order("normal")
    [read] = make_parser("mifare", "reversed").feed(f"{printed}\r\n".encode())
    assert read.value == "04A1B2C3"
    assert await _swiped_member(regular, read, uid_byte_order="reversed") == li  # was "unknown card"


async def test_a_card_issued_by_a_swipe_keeps_the_tags_uid_as_read(regular):
    """Issued by swiping an all-digit EM4100 tag, then found through a reader that sends only the low 24 bits."""
    from textual.widgets import Select

    from mms_tui.models import Card
    from mms_tui.screens.cards import IssueCardScreen
    from mms_tui.screens.common import Swiped
    from mms_tui.services.members.profile import register_member
    from tests.test_tui import at_desk, settle

    li = register_member("李四", "13912345678", regular.cashier, "r-li").member_id
    [read] = make_parser("rdm6300").feed(rdm6300_frame("0112345678"))
    async with at_desk(regular) as (app, pilot):
        screen = IssueCardScreen(li)
        app.push_screen(screen)
        await settle(pilot)
        screen.query_one("#issue-type", Select).value = "PT"
        screen.post_message(Swiped(read))
        await settle(pilot)
        await pilot.press("f10")
        await settle(pilot)
    card = Card.get(Card.card_no == "0112345678")
    assert card.member_id == li and card.reader_uid == "0112345678"  # was 06B2424E
    [short] = make_parser("wiegand26").feed(b"345678\r\n")
    assert await _swiped_member(regular, short) == li


def test_ten_digits_typed_find_the_card_of_either_reading_and_two_cards_are_refused(regular):
    """Ten digits are a USB reader's decimal and ten hex digits alike: typed, or come through a box (the family
    dialog's), they find the card of whichever reading has one; when each has one, nobody's is guessed."""
    from mms_tui.services.base.errors import AmbiguousCard
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.family import set_family
    from mms_tui.services.members.lookup import lookup
    from mms_tui.services.members.profile import find_member, register_member

    li = register_member("李四", "13912345678", regular.cashier, "r-li").member_id
    wang = register_member("王五", "13712345678", regular.cashier, "r-wang").member_id
    zhao = register_member("赵六", "13612345678", regular.cashier, "r-zhao").member_id
    issue_card(li, "PT", regular.cashier, "i-li", reader_uid="12345678")  # its tag 01 12345678, kept as 8 hex
    assert find_member("0112345678").id == li  # the hex reading (was: no member)
    assert [h.member_id for h in lookup("0112345678") if h.match == "card"] == [li]
    issue_card(wang, "PT", regular.cashier, "i-wang", reader_uid="06B2424E")  # 112345678: the decimal reading
    with pytest.raises(AmbiguousCard, match="fits 2 cards"):
        find_member("0112345678")  # was: 王五, whose family 赵六 would have joined
    with pytest.raises(AmbiguousCard):
        set_family(zhao, "0112345678", regular.cashier, "fam-1")
    assert find_member("06B2424E").id == wang and find_member("12345678").id == li  # their own 8 hex: one each


async def test_a_card_swiped_into_the_register_or_replace_dialog_keeps_the_tags_uid(regular):
    """As the issue dialog: the first card of a new member and a lost card's replacement, swiped on an RDM6300,
    keep the tag's UID as read, so a reader that sends only the low 24 bits finds them too."""
    from textual.widgets import Input, Select

    from mms_tui.models import Card, Member
    from mms_tui.screens.common import Swiped
    from mms_tui.screens.register import MemberFormScreen
    from tests.test_tui import at_desk, open_member, settle

    [first] = make_parser("rdm6300").feed(rdm6300_frame("0112345678"))
    [second] = make_parser("rdm6300").feed(rdm6300_frame("0187654321"))
    async with at_desk(regular) as (app, pilot):
        form = MemberFormScreen()
        app.push_screen(form)
        await settle(pilot)
        form.query_one("#name", Input).value = "李四"
        form.query_one("#phone", Input).value = "13912345678"
        form.query_one("#card-type", Select).value = "V10"
        form.post_message(Swiped(first))
        await settle(pilot)
        await pilot.press("f10")
        await settle(pilot)
        await settle(pilot)
        li = Member.get(Member.phone == "13912345678").id
        assert Card.get(Card.card_no == "0112345678").reader_uid == "0112345678"  # was 06B2424E

        screen = await open_member(pilot, "00077777")  # 张三 lost his card: replaced by a swiped one
        await pilot.press("ctrl+l")
        await settle(pilot)
        app.screen.post_message(Swiped(second))
        await settle(pilot)
        await pilot.press("f10")
        await settle(pilot)
        await settle(pilot)
        zhang = screen.member_id
    assert Card.get(Card.card_no == "0187654321").reader_uid == "0187654321"  # was none
    [short] = make_parser("wiegand26").feed(b"345678\r\n")
    assert await _swiped_member(regular, short) == li
    [short] = make_parser("wiegand26").feed(b"654321\r\n")
    assert await _swiped_member(regular, short) == zhang


def test_ten_digits_read_as_hex_never_match_on_the_24_bits_of_a_wiegand_card(regular):
    from mms_tui.services.base.errors import UnknownMember
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.profile import find_member, register_member

    wang = register_member("王五", "13712345678", regular.cashier, "r-wang").member_id
    issue_card(wang, "PT", regular.cashier, "i-wang", reader_uid="345678")  # a Wiegand-26 card: 24 bits
    with pytest.raises(UnknownMember):
        find_member("0112345678")  # another card's ten digits: its last six are no whole tag
