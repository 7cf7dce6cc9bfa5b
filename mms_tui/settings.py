"""Settings: the system-wide TOML file (``/etc/mms/config.toml``), under the user's (or the one ``MMS_CONFIG`` /
``--config`` names), under ``MMS_*`` environment variables, under options.

Loaded once at start-up (by the CLI) and passed down; no other module reads the environment.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import platformdirs

APP_NAME = "mms"

ENV_VARS = {
    "db": "MMS_DB",
    "store": "MMS_STORE",
    "lang": "MMS_LANG",
    "lock_minutes": "MMS_LOCK_MINUTES",
    "card_reader": "MMS_CARD_READER",
    "reader_protocol": "MMS_READER_PROTOCOL",
    "scanner": "MMS_SCANNER",
    "scanner_protocol": "MMS_SCANNER_PROTOCOL",
    "printer": "MMS_PRINTER",
    "printer_encoding": "MMS_PRINTER_ENCODING",
    "receipt_columns": "MMS_RECEIPT_COLUMNS",
    "reader_serial": "MMS_READER_SERIAL",
    "scanner_serial": "MMS_SCANNER_SERIAL",
    "printer_serial": "MMS_PRINTER_SERIAL",
    "display": "MMS_DISPLAY",
    "display_protocol": "MMS_DISPLAY_PROTOCOL",
    "display_serial": "MMS_DISPLAY_SERIAL",
    "display_encoding": "MMS_DISPLAY_ENCODING",
    "wedge_gap_ms": "MMS_WEDGE_GAP_MS",
    "wedge_min_chars": "MMS_WEDGE_MIN_CHARS",
    "lock_wait_seconds": "MMS_LOCK_WAIT_SECONDS",
    "statement_timeout_seconds": "MMS_STATEMENT_TIMEOUT_SECONDS",
    "uid_byte_order": "MMS_UID_BYTE_ORDER",
    "group": "MMS_GROUP",
    "backup_dir": "MMS_BACKUP_DIR",
}

#: the administrator's file for every account on the machine (``MMS_SYSTEM_CONFIG`` names another: packaging, tests)
SYSTEM_CONFIG = Path("/etc/mms/config.toml")


class SettingsError(Exception):
    """The configuration file or an override cannot be used."""


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_database_path() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME)) / "mms.sqlite3"


def demo_database_path() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME)) / "demo.sqlite3"


@dataclass(frozen=True)
class Settings:
    """Everything configurable. ``db`` is a SQLite path or a database URL (``postgresql://…``)."""

    db: str = ""  # empty: the default file in the user data directory (see ``database``)
    store: str = "HQ"
    lang: str = ""  # empty: from the locale
    lock_minutes: int = 10
    #: devices: a pyserial URL each (/dev/ttyUSB0, rfc2217://counter-pc:4000, socket://…), empty = none
    card_reader: str = ""
    reader_protocol: str = "rdm6300"
    scanner: str = ""
    scanner_protocol: str = "barcode"
    printer: str = ""
    printer_encoding: str = "gb18030"  # GB18030 for Chinese printers; e.g. cp437 for others
    #: the receipt paper's width in printer columns (a CJK character takes two): 32 on 58 mm paper, 48 on 80 mm
    receipt_columns: int = 32
    #: serial settings of each device: speed and frame ("9600 8N1"; RDM6300 readers use 9600 8N1)
    reader_serial: str = "9600 8N1"
    scanner_serial: str = "9600 8N1"
    printer_serial: str = "9600 8N1"
    #: how this desk's card readers print a Mifare UID's bytes: "normal" (正码) or "reversed" (反码) — the serial
    #: reader's and a keyboard-mode reader's numbers alike
    uid_byte_order: str = "normal"
    #: the customer pole display (客显): a pyserial URL (empty = none); ``cd5220`` for the 2 × 20 text displays,
    #: ``escq`` for the one-number LED price displays; the text's encoding (most VFDs have no Chinese font)
    display: str = ""
    display_protocol: str = "cd5220"
    display_serial: str = "9600 8N1"
    display_encoding: str = "ascii"
    #: a keyboard-wedge reader's burst: at least this many characters, each this soon after the last, then Enter
    #: (0 ms: no wedge readers; every key is typing)
    wedge_gap_ms: int = 30
    wedge_min_chars: int = 6
    #: the longest a save waits while another desk (or an import) writes, before it says so and gives up; the
    #: longest one PostgreSQL statement may run
    lock_wait_seconds: int = 15
    statement_timeout_seconds: int = 300
    #: the Unix group the desk accounts share the database through: a new database file is made 0660 in a folder
    #: made 2770, both of this group (empty: private to its owner, 0600 and 0700)
    group: str = ""
    #: where ``mms backup`` (without a file) puts dated backups, and where ``mms doctor`` looks for the last one
    backup_dir: str = ""
    #: the ``[messages]`` table: quiet hours aside (rules), the channels' settings — ``[messages.email]``,
    #: ``[messages.sms]``, ``[messages.wechat]`` (services/messages) — and ``lang``, the messages' language. Its
    #: secrets are never printed (``mms info`` shows which channels are set, not how)
    messages: Mapping[str, object] = field(default_factory=dict, repr=False)
    #: the ``[payments]`` table: ``[payments.wechat]`` and ``[payments.alipay]`` — the merchant's ids, keys and
    #: certificate files for payment codes (services/payments) — and ``wait_seconds``, how long a customer has to
    #: confirm on their phone. Its secrets are never printed (``mms info`` shows which providers are set, not how)
    payments: Mapping[str, object] = field(default_factory=dict, repr=False)
    config_path: str = ""
    #: the configuration files read, lowest first (for ``mms info`` and ``mms doctor``)
    config_files: tuple[str, ...] = ()

    @property
    def database(self) -> str:
        return self.db or str(default_database_path())

    def with_overrides(self, **overrides: object) -> Settings:
        given = {k: v for k, v in overrides.items() if v is not None and v != ""}
        return replace(self, **given)


#: settings that only make sense within bounds (a receipt narrower than 24 columns has no room for an amount)
_RANGES = {"receipt_columns": (24, 96)}


def _coerce(name: str, value: object) -> object:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if name in ("messages", "payments"):
        if not isinstance(value, Mapping):
            example = "[messages.email]" if name == "messages" else "[payments.wechat]"
            raise SettingsError(f"setting {name!r} must be a table ([{name}] with {example} …)")
        return dict(value)
    if kind in ("int", int):
        try:
            number = int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise SettingsError(f"setting {name!r} must be a whole number, not {value!r}") from None
        low, high = _RANGES.get(name, (None, None))
        if low is not None and high is not None and not low <= number <= high:
            raise SettingsError(f"setting {name!r} must be from {low} to {high}, not {number}")
        return number
    return str(value)


def load_settings(
    env: Mapping[str, str] | None = None,
    config_path: str | os.PathLike[str] | None = None,
    **overrides: object,
) -> Settings:
    """System file < the user's file < environment < explicit overrides (command-line options)."""
    env = os.environ if env is None else env
    system = Path(env.get("MMS_SYSTEM_CONFIG") or SYSTEM_CONFIG)
    path = Path(config_path or env.get("MMS_CONFIG") or default_config_path())
    if config_path and not path.is_file():  # named on purpose: a typo must not fall back to the defaults
        raise SettingsError(f"config file {path} does not exist")
    values: dict[str, object] = {}
    read: list[str] = []
    for file in dict.fromkeys((system, path)):  # the same file named twice is read once
        if file.exists():
            values.update(_read_file(file))
            read.append(str(file))
    for name, var in ENV_VARS.items():
        if env.get(var):
            values[name] = _coerce(name, env[var])
    for name, value in overrides.items():
        if value is not None and value != "":
            values[name] = _coerce(name, value)
    if values.get("uid_byte_order", "normal") not in ("normal", "reversed"):
        raise SettingsError(f"setting 'uid_byte_order' must be normal or reversed, not {values['uid_byte_order']!r}")
    return Settings(config_path=str(path), config_files=tuple(read), **values)  # type: ignore[arg-type]


def _read_file(path: Path) -> dict[str, object]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read config file {path}: {exc}") from None
    known = {f.name for f in fields(Settings)} - {"config_path", "config_files"}
    values: dict[str, object] = {}
    for key, value in data.items():
        if key not in known:
            raise SettingsError(f"unknown setting {key!r} in {path}")
        values[key] = _coerce(key, value)
    return values
