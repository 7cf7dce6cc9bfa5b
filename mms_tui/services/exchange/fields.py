"""The columns of member and product spreadsheets: what ``mms import`` reads and ``mms export`` writes.

One table of canonical field names with the headers people use for them (Chinese and English), so that a file
exported by mms imports again unchanged, and a spreadsheet from an old system maps without ``--map`` in the
common cases. Money columns hold yuan as people write them (``1234.50``); the import parses them exactly to fen.
:func:`map_columns` finds the column of each field in a file's header row, with the operator's ``--map``.
"""

from __future__ import annotations

from mms_tui.i18n import _
from mms_tui.services.base.errors import InvalidInput
from mms_tui.services.base.text import clip, normalise_query, shown

#: member file: field → header aliases (the canonical name is always accepted too). One row is a member and
#: at most one of their cards; rows with the same phone are the same member holding several cards.
MEMBER_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "会员姓名", "名字", "客户姓名"),
    "phone": ("手机", "手机号", "手机号码", "电话", "联系电话", "mobile", "tel"),
    "gender": ("性别", "sex"),
    "birthday": ("生日", "出生日期", "birth", "birthdate"),
    "tier": ("等级", "会员等级", "级别", "level"),
    "notes": ("备注", "说明", "note", "remark", "remarks"),
    "joined": ("入会日期", "注册日期", "开卡日期", "joined_at", "created", "created_at"),
    "store": ("门店", "所属门店", "store_code"),
    "card_no": ("卡号", "会员卡号", "card", "card_number", "cardno"),
    "card_type": ("卡类型", "卡种", "卡类别", "type"),
    "status": ("状态", "卡状态", "card_status"),
    "balance": ("余额", "储值余额", "本金", "本金余额", "principal"),
    "bonus": ("赠送余额", "赠送金额", "赠额", "bonus_balance"),
    "points": ("积分", "积分余额", "point"),
    "visits": ("剩余次数", "次数", "visits_left"),
    "valid_from": ("开始日期", "生效日期", "start", "start_date"),
    "valid_until": ("有效期", "有效期至", "到期日", "到期日期", "截止日期", "expiry", "expires", "end_date"),
    "reader_uid": ("感应卡号", "芯片号", "rfid", "uid"),
    "barcode": ("条码", "条形码", "卡条码"),
}

#: the order ``mms export members`` writes them in
MEMBER_COLUMNS: tuple[str, ...] = tuple(MEMBER_FIELDS)

#: product/service file: field → header aliases
PRODUCT_FIELDS: dict[str, tuple[str, ...]] = {
    "code": ("编码", "编号", "商品编码", "项目编码", "货号", "sku"),
    "name": ("名称", "商品名称", "项目名称", "品名"),
    "kind": ("类型", "种类", "商品/服务"),
    "category": ("类别", "分类", "品类"),
    "price": ("价格", "售价", "单价", "零售价", "price_yuan"),
    "barcode": ("条码", "条形码", "商品条码", "ean"),
    "duration_minutes": ("时长", "时长分钟", "服务时长", "duration"),
    "active": ("启用", "在售", "状态"),
}

PRODUCT_COLUMNS: tuple[str, ...] = tuple(PRODUCT_FIELDS)

#: price list file (``mms prices import``): field → header aliases
PRICE_FIELDS: dict[str, tuple[str, ...]] = {
    "code": ("编码", "编号", "商品编码", "项目编码", "货号", "sku", "item"),
    "list": ("价格表", "价格等级", "等级", "会员等级", "level", "tier"),
    "store": ("门店", "门店编码", "店铺"),
    "price": ("价格", "售价", "单价", "price_yuan"),
}
PRICE_REQUIRED = ("code", "price")
#: the columns an import cannot do without
MEMBER_REQUIRED = ("name", "phone")
PRODUCT_REQUIRED = ("code", "name", "price")

#: card status as written in files ↔ as stored
STATUS_WORDS: dict[str, str] = {
    "active": "active", "正常": "active", "有效": "active", "启用": "active", "使用中": "active",
    "frozen": "frozen", "冻结": "frozen", "停卡": "frozen",
    "lost": "lost", "挂失": "lost",
    "expired": "expired", "过期": "expired", "已过期": "expired",
    "cancelled": "cancelled", "注销": "cancelled", "作废": "cancelled", "已注销": "cancelled",
}


def header_key(header: str) -> str:
    """How headers are compared: full-width folded, case and spaces, underscores and hyphens ignored."""
    return normalise_query(header).lower().replace(" ", "").replace("_", "").replace("-", "")


def header_index(fields: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """header_key(alias) → field, for every field and alias."""
    index: dict[str, str] = {}
    for field, aliases in fields.items():
        for name in (field, *aliases):
            index[header_key(name)] = field
    return index


def parse_mapping(pairs: list[str] | tuple[str, ...], fields: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """``['Old Header=phone', …]`` → {header_key: field}."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        header, sep, target = pair.rpartition("=")
        target = target.strip()
        if not sep or not header.strip():
            raise InvalidInput(_("--map takes 'Header=field', not {value!r}.").format(value=pair))
        if target not in fields:
            raise InvalidInput(_("--map: unknown field {field!r}; the fields are {fields}.").format(
                field=target, fields=", ".join(fields)))
        mapping[header_key(header)] = target
    return mapping


def map_columns(headers: list[str], fields: dict[str, tuple[str, ...]], mapping: dict[str, str],
                required: tuple[str, ...]) -> tuple[dict[str, int], list[str]]:
    """Which column holds each field; headers nobody recognises are returned to be reported as ignored."""
    index = header_index(fields)
    columns: dict[str, int] = {}
    ignored: list[str] = []
    for i, header in enumerate(headers):
        key = header_key(header)
        target = mapping.get(key) or index.get(key) or index.get(key.removeprefix("会员"))  # 会员生日 → 生日
        if target is None:
            if header:
                ignored.append(header)
            continue
        if target in columns:
            raise InvalidInput(_("Columns {a} and {b} both give {field}; drop one or --map it elsewhere.").format(
                a=shown(headers[columns[target]]), b=shown(header), field=target))
        columns[target] = i
    missing = [f for f in required if f not in columns]
    if missing:
        raise InvalidInput(_("No column for {fields} (the file has: {headers}); name it with --map 'Header=field'.")
                           .format(fields=", ".join(missing), headers=_some([h for h in headers if h]) or "-"))
    return columns, _listed(ignored)


def _some(headers: list[str], most: int = 10) -> str:
    """Headers for a message: each cut short, and not all of them when there are many."""
    shown_headers = [clip(h) for h in headers[:most]]
    if len(headers) > most:
        shown_headers.append(_("… and {n} more").format(n=len(headers) - most))
    return ", ".join(shown_headers)


def _listed(ignored: list[str], most: int = 20) -> list[str]:
    """The ignored columns as they are reported: a file of 500 unknown columns names 20 of them."""
    if len(ignored) <= most and all(len(h) <= 40 for h in ignored):
        return ignored
    return [clip(h) for h in ignored[:most]] + (
        [_("… and {n} more").format(n=len(ignored) - most)] if len(ignored) > most else [])
