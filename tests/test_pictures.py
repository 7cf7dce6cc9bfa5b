"""``mms report NAME --chart FILE.png|svg`` (issue #25): every report with a picture draws one from its rows, whole
and private; SVG text stays text and the same rows give the same file; a wrong name, a report without a picture or
an empty period writes nothing and says so; ``--grid`` shows the visits as hours × weekdays."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat

import pytest
from click.testing import CliRunner

from mms_tui import clock
from mms_tui.cli import cli
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.exchange.pictures import PICTURES, write_chart
from mms_tui.services.reports.catalogue import run_report
from tests.test_reports import build_history


@pytest.fixture
def demo(sqlite_target):
    return build_history(sqlite_target)


def period_args():
    today = clock.today()
    return ["--from", (today - dt.timedelta(days=150)).isoformat(), "--to", today.isoformat()]


def test_every_picture_is_drawn(demo, tmp_path):
    from PIL import Image

    runner = CliRunner()
    for name in PICTURES:
        target = tmp_path / f"{name}.png"
        out = runner.invoke(cli, ["--db", demo, "report", name, *period_args(), "--by", "month", "--chart",
                                  str(target), "--format", "json"])
        assert out.exit_code == 0, (name, out.output)
        assert json.loads(out.stdout)  # the rows still come out
        with Image.open(target) as image:
            assert image.format == "PNG" and image.size == (1000, 560), name
        assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_svg_keeps_its_text_and_the_same_rows_give_the_same_file(demo, tmp_path):
    today = clock.today()
    rows = list(run_report("tier-trend", today - dt.timedelta(days=120), today, by="month"))
    one, two = tmp_path / "a.svg", tmp_path / "b.svg"
    write_chart("tier-trend", rows, str(one), subtitle="x")
    write_chart("tier-trend", rows, str(two), subtitle="x")
    text = one.read_text()
    assert "Members per tier over time" in text and "普通会员" in text and "<svg" in text
    assert one.read_bytes() == two.read_bytes()


def test_what_cannot_be_drawn_writes_nothing(demo, tmp_path):
    runner = CliRunner()
    cases = [(["report", "turnover", "--chart", str(tmp_path / "t.pdf")], ".png or an .svg"),
             (["report", "shifts", "--chart", str(tmp_path / "s.png")], "--chart draws these reports"),
             (["report", "turnover", "--from", "2001-01-01", "--to", "2001-01-31", "--chart",
               str(tmp_path / "e.png")], "Nothing in this period"),
             (["report", "turnover", "--grid"], "--grid applies to the visits report")]
    for args, said in cases:
        out = runner.invoke(cli, ["--db", demo, *args])
        assert out.exit_code != 0 and said in out.output and "Traceback" not in out.output, (args, out.output)
    assert [p.name for p in tmp_path.iterdir() if p.suffix != ".sqlite3"] == []
    with pytest.raises(InvalidInput):
        write_chart("turnover", [], str(tmp_path / "x.svg"))
    assert not (tmp_path / "x.svg").exists()


def test_the_visits_as_a_grid(demo):
    out = CliRunner().invoke(cli, ["--db", demo, "report", "visits", *period_args(), "--grid", "--format", "json"])
    assert out.exit_code == 0, out.output
    grid = json.loads(out.output)
    today = clock.today()
    total = sum(int(r["check_ins"]) for r in run_report("visits", today - dt.timedelta(days=150), today))
    assert sum(v for row in grid for k, v in row.items() if k != "hour") == total > 0
    assert list(grid[0]) == ["hour", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    hours = [int(r["hour"][:2]) for r in grid]
    assert hours == list(range(hours[0], hours[-1] + 1))
