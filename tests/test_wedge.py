"""A keyboard-wedge reader's burst against a person's typing (pure timing, no terminal)."""

from mms_tui.devices.wedge import WedgeDetector


def feed(detector, text, start=0.0, gap=0.005, enter_gap=None):
    t = start
    for ch in text:
        detector.char(ch, t)
        t += gap
    return detector.enter(t - gap + (gap if enter_gap is None else enter_gap))


def test_a_reader_burst_is_recognised_and_typing_is_not():
    assert feed(WedgeDetector(0.03, 6), "0012345678") == "0012345678"
    assert feed(WedgeDetector(0.03, 6), "13800138000", gap=0.12) is None  # a fast typist: 120 ms a key
    assert feed(WedgeDetector(0.03, 6), "12345") is None  # too short for a card


def test_a_burst_after_typing_starts_fresh_and_a_slow_enter_is_typing():
    d = WedgeDetector(0.03, 6)
    d.char("z", 0.0)
    d.char("s", 0.5)  # a person
    assert feed(d, "0012345678", start=2.0) == "0012345678"
    assert feed(WedgeDetector(0.03, 6), "0012345678", enter_gap=0.4) is None


def test_jitter_over_ssh_leaves_it_a_search_and_other_keys_reset():
    d = WedgeDetector(0.03, 6)
    for i, ch in enumerate("00123"):
        d.char(ch, i * 0.005)
    d.char("4", 0.2)  # a packet late: the reader's burst is broken in two, none long enough
    for i, ch in enumerate("5678"):
        d.char(ch, 0.2 + (i + 1) * 0.005)
    assert d.enter(0.23) is None
    d = WedgeDetector(0.03, 6)
    for i, ch in enumerate("001234"):
        d.char(ch, i * 0.001)
    d.other()
    assert d.enter(0.007) is None
    assert WedgeDetector(0, 6).enter(0.0) is None  # switched off
