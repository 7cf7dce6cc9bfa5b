"""gettext for every user-facing string. Catalogs live in ``mms_tui/locale/<lang>/LC_MESSAGES/mms.mo``.

``set_language`` is called once at start-up from settings; ``_`` looks up the active catalog on each call, so a
string built after start-up is in the chosen language.
"""

from __future__ import annotations

import gettext
import locale
import os
from pathlib import Path

DOMAIN = "mms"
LOCALE_DIR = Path(__file__).parent / "locale"
SUPPORTED = ("zh_CN", "en")

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"


def normalise_language(lang: str | None) -> str:
    """'zh', 'zh_CN.UTF-8', 'zh-cn' → 'zh_CN'; anything else → 'en'."""
    if not lang:
        return "en"
    lang = lang.split(".")[0].replace("-", "_").lower()
    return "zh_CN" if lang.startswith("zh") else "en"


def language_from_locale() -> str:
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)  # the process locale, as gettext itself reads it
        if value:
            return normalise_language(value)
    try:
        return normalise_language(locale.getlocale()[0])
    except ValueError:
        return "en"


def set_language(lang: str | None) -> str:
    """Activate ``lang`` (or the locale's language when empty); return the language now in use."""
    global _translation, _language
    _language = normalise_language(lang) if lang else language_from_locale()
    _translation = gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[_language], fallback=True)
    return _language


def current_language() -> str:
    return _language


def _(message: str) -> str:
    return _translation.gettext(message)


def N_(message: str) -> str:
    """Marks a string for the catalog where it is defined; ``_`` translates it where it is shown."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translation.ngettext(singular, plural, n)
