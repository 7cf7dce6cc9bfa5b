"""Device frames: every protocol, every broken form, split anywhere; the reader thread over real pty pairs."""

from __future__ import annotations

import os
import queue
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mms_tui.devices.protocols import (
    PROTOCOLS,
    em4100_decimal,
    make_parser,
    rdm6300_frame,
    uid_matches,
)
from mms_tui.devices.reader import SerialReader

TAG = "0A1B2C3D4E"  # version 0A, tag 1B2C3D4E
TAG_DECIMAL = "0455884110"  # what a USB decimal reader prints for the same tag


def values(reads):
    return [r.value for r in reads]


# --- RDM6300 ---------------------------------------------------------------------------------------------------


def test_rdm6300_frame_gives_the_same_uid_as_a_decimal_reader():
    assert values(make_parser("rdm6300").feed(rdm6300_frame(TAG))) == [TAG]  # all 40 bits
    assert values(make_parser("decimal").feed(TAG_DECIMAL.encode() + b"\r\n")) == ["1B2C3D4E"]  # the low 32
    assert em4100_decimal(TAG) == TAG_DECIMAL
    assert uid_matches(TAG, "1B2C3D4E")


def test_rdm6300_lowercase_hex_is_accepted():
    frame = rdm6300_frame(TAG)
    assert values(make_parser("rdm6300").feed(frame[:1] + frame[1:13].lower() + frame[13:])) == [TAG]


def test_rdm6300_bad_checksum_is_dropped_and_counted():
    frame = bytearray(rdm6300_frame(TAG))
    frame[11:13] = b"00"
    parser = make_parser("rdm6300")
    assert parser.feed(bytes(frame)) == []
    assert parser.errors >= 1 and "checksum" in parser.last_error


def test_rdm6300_missing_etx_then_a_good_frame():
    parser = make_parser("rdm6300")
    assert values(parser.feed(rdm6300_frame(TAG)[:13] + b"X" + rdm6300_frame(TAG))) == [TAG]
    assert parser.errors >= 1


def test_rdm6300_stx_mid_frame_resyncs_on_the_new_frame():
    parser = make_parser("rdm6300")
    assert values(parser.feed(rdm6300_frame(TAG)[:6] + rdm6300_frame(TAG))) == [TAG]
    assert parser.errors >= 1


def test_rdm6300_split_byte_by_byte_and_two_frames_in_one_read():
    parser = make_parser("rdm6300")
    found = []
    for b in rdm6300_frame(TAG):
        found += parser.feed(bytes([b]))
    assert values(found) == [TAG]
    other = "01DEADBEEF"
    assert values(parser.feed(rdm6300_frame(TAG) + rdm6300_frame(other))) == [TAG, other]


def test_rdm6300_noise_and_non_hex_are_dropped():
    parser = make_parser("rdm6300")
    assert parser.feed(b"\x00\xff garbage \x02ZZZZZZZZZZZZ\x03") == []
    assert parser.errors >= 1
    assert values(parser.feed(rdm6300_frame(TAG))) == [TAG]


# --- lines, decimal, Wiegand, barcodes, magstripe ---------------------------------------------------------------


@pytest.mark.parametrize("ending", [b"\r", b"\n", b"\r\n"])
def test_plain_lines_with_any_ending(ending):
    assert values(make_parser("line").feed(b"00012345" + ending + b"ABC" + ending)) == ["00012345", "ABC"]


def test_full_width_digits_and_stray_whitespace_are_normalised():
    assert values(make_parser("line").feed(" ００１２３４５ \r\n".encode())) == ["0012345"]


def test_a_64_kb_line_without_terminator_is_dropped_and_the_next_line_read():
    parser = make_parser("line")
    assert parser.feed(b"9" * 65536) == []
    assert parser.errors == 1
    assert values(parser.feed(b"\r\n12345\r\n")) == ["12345"]


def test_decimal_refuses_what_is_not_ten_digits():
    parser = make_parser("decimal")
    assert values(parser.feed(b"123\r\n4294967296\r\n0000000001\r\n")) == ["00000001"]
    assert parser.errors == 2


def test_wiegand26_facility_and_card_number():
    parser = make_parser("wiegand26")
    assert values(parser.feed(b"7B3039\r\nXYZ\r\n")) == ["7B3039"]
    assert parser.errors == 1


def test_barcode_aim_prefix_is_stripped_and_recorded():
    reads = make_parser("barcode").feed(b"]E06901234567892\r\n]Q1https://x.cn/a\r\nPLAIN-1\r\n")
    assert [(r.value, r.symbology, r.kind) for r in reads] == [
        ("6901234567892", "]E0", "barcode"), ("https://x.cn/a", "]Q1", "barcode"), ("PLAIN-1", "", "barcode")]


def test_magstripe_both_tracks_give_one_read_of_the_pan():
    parser = make_parser("magstripe")
    swipe = b"\x02%B6217001234567890^ZHANG/SAN^29121010000?;6217001234567890=29121010000?\x03\r\n"
    assert values(parser.feed(swipe)) == ["6217001234567890"]
    assert parser.errors == 0


def test_magstripe_error_track_and_track_two_only():
    parser = make_parser("magstripe")
    assert values(parser.feed(b"%E?;6217001234567890=2912?\r\n")) == ["6217001234567890"]
    assert parser.errors == 1
    assert values(parser.feed(b"%B123^NAME^99?\r\n")) == ["123"]  # track 1 alone


def test_unknown_protocol_is_refused():
    with pytest.raises(ValueError, match="unknown protocol"):
        make_parser("morse")


NOISE = st.binary(max_size=40).map(lambda b: b.replace(b"\x02", b""))


@settings(max_examples=200, deadline=None)
@given(tags=st.lists(st.binary(min_size=5, max_size=5), min_size=1, max_size=5),
       noise=st.lists(NOISE, min_size=6, max_size=6), cuts=st.lists(st.integers(1, 30), max_size=10))
def test_rdm6300_frames_in_noise_are_all_found_and_nothing_false(tags, noise, cuts):
    stream = noise[0]
    for tag, junk in zip(tags, noise[1:], strict=False):
        stream += rdm6300_frame(tag.hex()) + junk
    parser = make_parser("rdm6300")
    found, pos = [], 0
    for cut in [*cuts, len(stream)]:
        found += parser.feed(stream[pos:pos + cut])
        pos += cut
    found += parser.feed(stream[pos:])
    assert values(found) == [t.hex().upper() for t in tags]


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300), protocol=st.sampled_from(sorted(PROTOCOLS)))
def test_no_byte_stream_makes_a_parser_raise(data, protocol):
    parser = make_parser(protocol)
    for read in parser.feed(data) + parser.feed(b"\r\n"):
        assert read.value and read.value.isprintable()


# --- the reader thread over real pty pairs ----------------------------------------------------------------------


class Pty:
    """A pseudo-terminal whose slave is reached through a stable symlink, like a reader behind ser2net."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master, slave = os.openpty()
        self.slave_name = os.ttyname(slave)
        os.close(slave)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(self.slave_name)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        os.close(self.master)


def wait_for(predicate, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.realclock  # the reconnect waits on threading.Event(timeout), which libfaketime 0.9.10 breaks
def test_reader_over_a_pty_one_event_per_presentation_and_reconnect(tmp_path):
    link = tmp_path / "reader"
    pty = Pty(link)
    reads: queue.Queue = queue.Queue()
    states: list[str] = []
    reader = SerialReader(str(link), "rdm6300", reads.put, lambda s: states.append(s.state), max_backoff=0.3).start()
    try:
        assert wait_for(lambda: reader.state == "connected")
        for _ in range(5):  # the tag stays on the reader: the frame repeats
            pty.write(rdm6300_frame(TAG))
            time.sleep(0.05)
        pty.write(b"\x02garbage!!!!!\x03")
        assert reads.get(timeout=5).value == TAG
        time.sleep(0.3)
        assert reads.empty()
        assert wait_for(lambda: reader.status().errors >= 1)
        pty.close()  # unplugged
        assert wait_for(lambda: "disconnected" in states)
        pty = Pty(link)  # plugged in again (a new pty behind the same name)
        assert wait_for(lambda: reader.state == "connected", timeout=10)
        time.sleep(1.0)  # past the hold gap: a new presentation
        pty.write(rdm6300_frame(TAG))
        assert reads.get(timeout=5).value == TAG
        assert reader.status().reads == 2
    finally:
        reader.stop()
        pty.close()


def test_reader_on_a_missing_port_reports_disconnected_without_raising(tmp_path):
    states: list[str] = []
    reader = SerialReader(str(tmp_path / "nothing"), "line", lambda r: None, lambda s: states.append(s.state),
                          max_backoff=0.2).start()
    try:
        assert wait_for(lambda: "disconnected" in states)
        assert reader.status().last_error
    finally:
        reader.stop()


def test_reader_over_a_network_socket_like_ser2net():
    """``socket://host:port``: a reader shared from the counter PC while staff work over SSH."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    reads: queue.Queue = queue.Queue()
    reader = SerialReader(f"socket://127.0.0.1:{port}", "barcode", reads.put).start()
    try:
        conn, _addr = server.accept()
        assert wait_for(lambda: reader.state == "connected")
        time.sleep(0.2)  # pyserial drains the socket while it opens; a real swipe comes later than that
        conn.sendall(b"]E06901234567892\r\n")
        read = reads.get(timeout=5)
        assert (read.value, read.symbology) == ("6901234567892", "]E0")
        conn.close()
    finally:
        reader.stop()
        server.close()


def test_devices_watch_prints_reads_and_frame_errors(tmp_path):
    import subprocess
    import sys

    link = tmp_path / "reader"
    pty = Pty(link)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mms_tui", "devices", "watch", str(link), "--protocol", "rdm6300", "--count", "2",
         "--seconds", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = ""
        while "connected" not in line:
            line = proc.stderr.readline()
            assert line, "watch ended before connecting"
        time.sleep(0.2)
        pty.write(rdm6300_frame(TAG))
        time.sleep(0.1)
        pty.write(b"\x02BROKENFRAME!\x03")
        time.sleep(1.0)  # a new presentation
        pty.write(rdm6300_frame("01DEADBEEF"))
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
        pty.close()
    assert proc.returncode == 0
    assert [line.split()[1:] for line in out.splitlines()] == [["card", TAG], ["card", "01DEADBEEF"]]
    assert "frame error" in err
    assert "2 reads" in err


@pytest.mark.parametrize("spec, expected", [
    ("9600 8N1", {"baudrate": 9600, "bytesize": 8, "parity": "N", "stopbits": 1}),
    ("115200,7e2", {"baudrate": 115200, "bytesize": 7, "parity": "E", "stopbits": 2}),
])
def test_serial_settings(spec, expected):
    from mms_tui.devices.reader import parse_serial

    assert parse_serial(spec) == expected


@pytest.mark.parametrize("spec", ["fast", "9600", "9600 9N1", "9600 8X1"])
def test_bad_serial_settings_are_refused_with_the_reason(spec):
    from mms_tui.devices.reader import parse_serial

    with pytest.raises(ValueError, match="serial"):
        parse_serial(spec)
