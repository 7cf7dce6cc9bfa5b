"""The commands' help in the chosen language (issue #25): every help text of every command and option is in the
catalog, and ``--lang zh`` (or MMS_LANG=zh) turns ``--help`` Chinese — before or after the command — while a
table's headers follow the same language."""

from __future__ import annotations

import gettext

import pytest

from mms_tui.cli import cli
from mms_tui.cli.help_text import help_messages
from mms_tui.i18n import DOMAIN, LOCALE_DIR, set_language


@pytest.fixture(autouse=True)
def english_after():
    yield
    set_language("en")
    from mms_tui.cli.help_text import translate_help

    translate_help(cli)


def test_every_help_text_is_in_the_chinese_catalog():
    chinese = gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=["zh_CN"])
    texts = list(help_messages(cli))
    assert len(texts) > 400  # every command and option: the walk reached them all
    untranslated = [text for text, _where in texts if chinese.gettext(text) == text]
    assert untranslated == []


def test_the_top_help_and_a_commands_help_in_chinese_by_option_or_environment(run):
    top = run("--lang", "zh", "--help")
    assert top.exit_code == 0 and "会员管理系统" in top.output and "前台" in top.output.split("Options:")[0]
    assert "Language of the screens" not in top.output
    report = run("--lang", "zh", "report", "--help")
    assert report.exit_code == 0 and "报表" in report.output
    assert "Reports for the owner and the accountant" not in report.output
    by_env = run("topup", "batch", "--help", extra_env={"MMS_LANG": "zh"})
    assert by_env.exit_code == 0 and "储值卡充值" in by_env.output and "用法:" in by_env.output and "--reference" in by_env.output
    english = run("report", "--help")
    assert "Reports for the owner and the accountant" in english.output


def test_a_table_for_people_has_headers_in_the_language_and_machine_formats_keep_the_names(run, sqlite_desk):
    db = ("--db", sqlite_desk.target)
    from mms_tui.services.members.cards import issue_card
    from mms_tui.services.members.profile import register_member
    from mms_tui.services.money.topup import top_up

    card = issue_card(register_member("王一", "13900000001", sqlite_desk.cashier, "r").member_id, "SV",
                      sqlite_desk.cashier, "i", card_no="SV001").card_id
    top_up(card, 100_000, 20_000, "cash", sqlite_desk.cashier, "t")
    table = run(*db, "report", "topups").output.splitlines()[0].split()
    assert table[:3] == ["Period", "Tender", "Top-ups"] and "(¥)" in " ".join(table)
    chinese = run(*db, "--lang", "zh", "report", "topups").output.splitlines()[0]
    assert "充值笔数" in chinese or "充值" in chinese
    assert "topup_count" not in chinese
    assert run(*db, "report", "topups", "--format", "csv").output.splitlines()[0].startswith("period,tender,topup_count")
