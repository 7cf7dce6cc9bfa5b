"""The ``mms`` commands through Click's CliRunner against temp databases: exit codes, output, rows."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from mms_tui.cli import cli
from mms_tui.models import Card, Config, Member, SchemaVersion, Staff
from mms_tui.models.migrations import LATEST
from mms_tui.services.members.cards import issue_card
from mms_tui.services.members.profile import register_member
from mms_tui.services.ops.setup import connect

ROOT = Path(__file__).resolve().parent.parent


def test_init_creates_schema_and_admin_then_is_idempotent(run, tmp_path):
    db = str(tmp_path / "shop.sqlite3")
    first = run("--db", db, "init", "--admin-pin", "1234")
    assert first.exit_code == 0, first.output
    assert "Created admin admin." in first.output
    again = run("--db", db, "init", "--admin-pin", "1234")
    assert again.exit_code == 0
    assert "already at version" in again.output
    connect(db)
    assert [s.code for s in Staff.select()] == ["admin"]


def test_init_upgrades_an_older_database_and_the_desk_refuses_it_until_then(run, tmp_path):
    db = str(tmp_path / "shop.sqlite3")
    assert run("--db", db, "init", "--admin-pin", "1234").exit_code == 0
    connect(db)
    SchemaVersion.delete().where(SchemaVersion.version > 1).execute()  # as a version-1 database reads
    assert f"1 / {LATEST}" in run("--db", db, "info").output
    refused = run("--db", db, "report", "turnover")
    assert refused.exit_code == 1 and "mms upgrade" in refused.output
    upgraded = run("--db", db, "init", "--admin-pin", "1234")
    assert upgraded.exit_code == 0, upgraded.output
    assert f"Schema at version {LATEST} (applied {', '.join(map(str, range(2, LATEST + 1)))})." in upgraded.output
    assert "Created admin" not in upgraded.output


def test_init_without_a_pin_and_no_terminal_fails_cleanly(run, tmp_path):
    result = run("--db", str(tmp_path / "shop.sqlite3"), "init")
    assert result.exit_code == 1
    assert "--admin-pin" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_init_refuses_a_bad_pin(run, tmp_path):
    result = run("--db", str(tmp_path / "shop.sqlite3"), "init", "--admin-pin", "12")
    assert result.exit_code == 1
    assert "4 to 8 digits" in result.output


def test_info_reports_location_schema_and_counts(run, sqlite_desk):
    result = run("--db", sqlite_desk.target, "info", "--format", "json")
    assert result.exit_code == 0, result.output
    facts = {row["key"]: row["value"] for row in json.loads(result.output)}
    assert facts["database"] == str(Path(sqlite_desk.target).resolve())
    assert facts["schema"] == f"{LATEST} / {LATEST}"
    assert facts["staff"] == 3 and facts["members"] == 0


def test_mms_db_environment_variable_chooses_the_database(run, sqlite_desk):
    result = run("info", extra_env={"MMS_DB": sqlite_desk.target})
    assert result.exit_code == 0
    assert str(Path(sqlite_desk.target).resolve()) in result.output


@pytest.fixture
def people(sqlite_desk):
    zhang = register_member("张三", "13800138000", sqlite_desk.cashier, "r1").member_id
    register_member("李四", "13912345678", sqlite_desk.cashier, "r2")
    issue_card(zhang, "SV", sqlite_desk.cashier, "i1", card_no="00012345")
    return sqlite_desk


@pytest.mark.parametrize("query", ["00012345", "13800138000", "8000", "张", "zs", "zhangsan"])
def test_lookup_finds_by_every_key(run, people, query):
    result = run("--db", people.target, "lookup", query, "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["name"] for r in rows] == ["张三"]
    assert rows[0]["phone"] == "138****8000"


def test_lookup_csv_has_a_header_and_no_hit_is_one_line_exit_1(run, people):
    result = run("--db", people.target, "lookup", "ls", "--format", "csv")
    assert result.output.splitlines()[0] == "id,name,phone,tier,match,stored_value,points,cards"
    assert "李四" in result.output
    missing = run("--db", people.target, "lookup", "nobody")
    assert missing.exit_code == 1
    assert missing.output.strip() == "Error: No member matches 'nobody'."


def test_check_clean_then_tampered(run, people):
    assert run("--db", people.target, "check").exit_code == 0
    connect(people.target)
    Card.update(principal_fen=5).where(Card.card_no == "00012345").execute()
    result = run("--db", people.target, "check")
    assert result.exit_code == 1
    assert "card 00012345" in result.output and "principal_fen is 5" in result.output


def test_missing_database_is_one_line_and_creates_nothing(run, tmp_path):
    db = tmp_path / "nowhere.sqlite3"
    for command in (["check"], ["lookup", "zs"], []):
        result = run("--db", str(db), *command)
        assert result.exit_code == 1
        assert "mms init" in result.output
    assert not db.exists()


def test_bad_database_url_is_a_clean_error(run):
    result = run("--db", "nosuchdb://x/y", "info")
    assert result.exit_code == 1
    assert result.output.startswith("Error:")


def test_broken_config_file_is_a_clean_error(run, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("db = [unclosed", encoding="utf-8")
    result = run("--config", str(config), "info")
    assert result.exit_code == 1
    assert "cannot read config file" in result.output


def test_demo_builds_a_consistent_database_and_reuses_it(run, tmp_path):
    db = str(tmp_path / "demo.sqlite3")
    built = run("--db", db, "demo", "--members", "5", "--no-tui")
    assert built.exit_code == 0, built.output
    assert "PIN 1234" in built.output
    assert run("--db", db, "check").exit_code == 0
    connect(db)
    assert Member.select().count() == 5
    assert Config.get_or_none(Config.key == "demo_login") is not None
    from mms_tui.services.loyalty.rules_store import load_rules

    rules = load_rules()  # a new user sees the loyalty features at work: 满300减50, gifts for points (a ¥10 coupon
    # among them), a birthday cake
    assert [p.code for p in rules.promotions] == ["MJ300", "SPRING", "CASH10"]
    assert [(g.code, g.coupon) for g in rules.points.gifts] == [("TOWEL", None), ("CASH10", "CASH10"), ("CAKE", None)]
    assert rules.birthday.gift == "CAKE"
    again = run("--db", db, "demo", "--members", "5", "--no-tui")
    assert again.exit_code == 0 and "Using the demo database" in again.output
    connect(db)
    assert Member.select().count() == 5


def test_demo_refuses_a_real_database(run, people):
    result = run("--db", people.target, "demo", "--no-tui")
    assert result.exit_code == 1
    assert "not a demo" in result.output


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


@pytest.mark.parametrize("path", [(), *(p for p, _c in _commands(cli))], ids=lambda p: " ".join(p) or "mms")
def test_every_command_and_option_has_help(run, path):
    result = run(*path, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output
    command = dict(_commands(cli)).get(path, cli)
    assert command.help and command.help.strip()
    assert [p.name for p in command.params if isinstance(p, click.Option) and not (p.help or "").strip()] == []


def _cli_doc():
    """scripts/cli_doc.py, which makes the README's command list from the commands."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("cli_doc", ROOT / "scripts" / "cli_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_lists_every_command_as_its_help_says():
    """README.md's command list is made from the commands' own help (as sqlite-utils checks its docs): a command,
    option or help sentence changed without refreshing it fails here."""
    cli_doc = _cli_doc()
    listed = cli_doc.current((ROOT / "README.md").read_text(encoding="utf-8"))
    assert listed == cli_doc.render(cli), "README.md's command list is stale: python scripts/cli_doc.py --write"
    for path, command in _commands(cli):
        if not isinstance(command, click.Group):
            assert f"\nmms {' '.join(path)} " in listed


def test_the_command_list_follows_a_changed_option_or_help():
    from mms_tui.cli.options import DAY

    cli_doc = _cli_doc()

    def listed(*options: click.Option, help: str) -> str:
        root = click.Group(help="The root.")
        root.add_command(click.Command("expire", params=list(options), help=help))
        return cli_doc.render(root)

    as_of = click.Option(["--as-of"], type=DAY, metavar="YYYY-MM-DD", help="The day.")
    dry_run = click.Option(["--dry-run"], is_flag=True, help="Write nothing.")
    before = listed(dry_run, help="Expire points (e.g. daily). Running it again changes nothing.")
    assert before.endswith("\nmms expire [--dry-run]       Expire points (e.g. daily).\n")
    after = listed(as_of, dry_run, help="Expire the points that are due.")
    assert after.endswith("\nmms expire [--as-of YYYY-MM-DD] [--dry-run]\n" + " " * 29 + "Expire the points that are due.\n")
