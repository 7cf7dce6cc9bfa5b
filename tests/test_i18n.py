"""Both catalogs ship complete, and the desk speaks Chinese when asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from mms_tui.i18n import LOCALE_DIR, _, current_language, normalise_language, set_language
from mms_tui.services.base.errors import WrongPin
from mms_tui.services.base.text import discount_label
from mms_tui.services.staff.accounts import authenticate


@pytest.fixture
def chinese():
    set_language("zh")
    yield
    set_language("en")


def _untranslated(po: Path) -> list[str]:
    missing, msgid, fuzzy = [], None, False
    for line in po.read_text(encoding="utf-8").splitlines():
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        if line.startswith("msgid "):
            msgid = line[6:]
            if fuzzy and msgid != '""':  # a guessed translation is not a translation
                missing.append(msgid)
            fuzzy = False
        elif line.startswith("msgstr ") and msgid not in (None, '""') and line == 'msgstr ""':
            missing.append(msgid)
    return missing


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_catalogs_are_complete_and_compiled(lang):
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    assert _untranslated(folder / "mms.po") == []
    assert (folder / "mms.mo").stat().st_mtime >= (folder / "mms.po").stat().st_mtime - 1


@pytest.mark.parametrize("given, expected", [("zh", "zh_CN"), ("zh_CN.UTF-8", "zh_CN"), ("en_US", "en"), ("", "en")])
def test_language_names(given, expected):
    assert normalise_language(given) == expected


def test_domain_errors_and_discounts_in_chinese(chinese, desk):
    assert current_language() == "zh_CN"
    with pytest.raises(WrongPin, match="工号或 PIN 错误"):
        authenticate("c01", "9999")
    assert discount_label(9000) == "9折"
    assert _("Check in") == "签到"

