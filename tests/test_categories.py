"""Categories as a managed list (#17): an item's category must be on it; rename moves the items with it (not
while the loyalty rules name it); disable keeps items but takes no new ones; an import adds what it names; the
migration starts the list from the catalogue. Services on SQLite and PostgreSQL, then `mms categories`."""

from __future__ import annotations

import json

import pytest

from mms_tui.models import AuditEvent, Category, SchemaVersion, ServiceItem
from mms_tui.models.migrations import LATEST
from mms_tui.services.base.errors import InvalidInput, NotFound, PermissionDenied
from mms_tui.services.catalogue.categories import (
    add_category,
    list_categories,
    rename_category,
    set_category_active,
)
from mms_tui.services.catalogue.items import add_item, edit_item
from mms_tui.services.loyalty.rules_store import save_rules
from mms_tui.services.ops.setup import initialise
from tests.conftest import MANAGER_PIN


def written() -> tuple[int, int, list[str]]:
    return (Category.select().count(), AuditEvent.select().count(),
            sorted(c for (c,) in ServiceItem.select(ServiceItem.category).tuples()))


def test_an_item_goes_only_into_a_category_on_the_list(desk):
    with pytest.raises(InvalidInput, match="Category: 美甲 is not on the list"):
        add_item(desk.manager, "service", "NAIL", "美甲", 9_900, category="美甲")
    add_category(desk.manager, " 美甲 ")
    made = add_item(desk.manager, "service", "NAIL", "美甲", 9_900, category="美甲")
    assert made.category == "美甲"
    assert add_item(desk.manager, "product", "GUM", "口香糖", 500).category == ""  # none is fine
    listed = {c.name: (c.products, c.services) for c in list_categories()}
    assert listed == {"理疗": (0, 1), "美发": (0, 1), "美甲": (0, 1), "零售": (2, 0)}


def test_rename_moves_every_item_and_is_audited(desk):
    renamed = rename_category(desk.manager, "美发", "美发造型")
    assert (renamed.name, renamed.services) == ("美发造型", 1)
    assert ServiceItem.get(ServiceItem.code == "HAIR").category == "美发造型"
    event = AuditEvent.select().where(AuditEvent.action == "category.rename").get()
    assert json.loads(event.payload)["items"] == 1


def test_a_disabled_category_takes_no_new_items_and_its_items_keep_it(desk):
    set_category_active(desk.manager, "理疗", False)
    with pytest.raises(InvalidInput, match=r"Category: 理疗 is disabled\."):
        edit_item(desk.manager, "HAIR", category="理疗")
    assert ServiceItem.get(ServiceItem.code == "SPA").category == "理疗"
    assert "理疗" not in [c.name for c in list_categories(inactive=False)]
    set_category_active(desk.manager, "理疗", True)
    assert edit_item(desk.manager, "HAIR", category="理疗").category == "理疗"


@pytest.mark.parametrize("call, error, message", [
    (lambda d: add_category(d.manager, "零售"), InvalidInput, "Category: 零售 is already on the list."),
    (lambda d: add_category(d.manager, "  "), InvalidInput, "Category: required."),
    (lambda d: add_category(d.manager, "长" * 51), InvalidInput, "longer than 50"),
    (lambda d: add_category(d.cashier, "美甲"), PermissionDenied, ""),
    (lambda d: rename_category(d.manager, "美发", "零售"), InvalidInput, "Category: 零售 is already on the list."),
    (lambda d: rename_category(d.manager, "没有", "新"), NotFound, "No category 没有."),
    (lambda d: rename_category(d.cashier, "美发", "新"), PermissionDenied, ""),
])
def test_refusals_name_the_problem_and_change_nothing(desk, call, error, message):
    before = written()
    with pytest.raises(error) as refused:
        call(desk)
    assert message in str(refused.value)
    assert written() == before


def test_a_category_the_loyalty_rules_name_is_not_renamed_under_them(desk):
    save_rules({"points": {"category_multipliers": {"零售": "0.5"}}}, desk.manager)
    before = written()
    with pytest.raises(InvalidInput, match=r"the loyalty rules name 零售 \(points.category_multipliers\)"):
        rename_category(desk.manager, "零售", "商品")
    assert written() == before


def test_an_import_adds_the_categories_it_names(desk, tmp_path):
    from mms_tui.services.exchange.importing import import_file

    sheet = tmp_path / "products.csv"
    sheet.write_text("编码,名称,类型,类别,售价\nTEA,绿茶,商品,饮品,6\n", encoding="utf-8")
    import_file("products", sheet, staff=desk.manager)
    assert "饮品" in [c.name for c in list_categories()]


def test_migration_14_starts_the_list_from_the_catalogue(sqlite_desk):
    from mms_tui.db import database

    database.execute_sql('DROP TABLE "category"')
    SchemaVersion.delete().where(SchemaVersion.version > 13).execute()
    assert initialise().applied == list(range(14, LATEST + 1))
    assert [c.name for c in list_categories()] == ["理疗", "美发", "零售"]


def test_mms_categories_commands(run, sqlite_desk):
    db = ("--db", sqlite_desk.target)
    staff = ("--staff", "m01", "--pin-stdin")
    pin = MANAGER_PIN + "\n"
    assert run(*db, "categories", "add", "美甲", *staff, input=pin).exit_code == 0
    renamed = run(*db, "categories", "rename", "美甲", "美甲美睫", *staff, "--format", "json", input=pin)
    assert json.loads(renamed.output)[0]["name"] == "美甲美睫"
    assert run(*db, "categories", "disable", "美甲美睫", *staff, input=pin).exit_code == 0
    assert "美甲美睫" not in run(*db, "categories", "list").output
    assert "美甲美睫" in run(*db, "categories", "list", "--all").output
    refused = run(*db, "products", "add", "NAIL", "美甲", "--price", "99", "--category", "美甲美睫", *staff, input=pin)
    assert refused.exit_code == 1 and "Category: 美甲美睫 is disabled." in refused.output
    assert run(*db, "categories", "enable", "美甲美睫", *staff, input=pin).exit_code == 0
    added = run(*db, "products", "add", "NAIL", "美甲", "--kind", "service", "--price", "99", "--category", "美甲美睫",
                *staff, input=pin)
    assert added.exit_code == 0, added.output
