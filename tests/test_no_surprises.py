"""No silent surprises (#18): a read-only command never creates a database, a `--db` whose folder does not exist
and a `--config` naming a missing file are each one clear line and a non-zero exit."""

from __future__ import annotations

from pathlib import Path


def test_mms_info_on_a_path_that_does_not_exist_creates_nothing_and_says_so(run, tmp_path):
    target = tmp_path / "typo.sqlite3"
    result = run("--db", str(target), "info")
    assert result.exit_code == 1
    assert "There is no database at" in result.output and "mms init" in result.output
    assert not target.exists()
    assert not Path(str(target) + "-wal").exists()


def test_mms_info_still_describes_a_database_at_an_older_schema(run, tmp_path):
    target = tmp_path / "shop.sqlite3"
    assert run("--db", str(target), "init", "--admin-pin", "1234").exit_code == 0
    assert "schema" in run("--db", str(target), "info").output


def test_a_db_in_a_folder_that_does_not_exist_is_one_clear_line(run, tmp_path):
    target = tmp_path / "no" / "such" / "folder" / "shop.sqlite3"
    result = run("--db", str(target), "init", "--admin-pin", "1234")
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "does not exist" in lines[0] and str(target.parent) in lines[0]
    assert not target.parent.exists()


def test_a_config_file_named_on_the_command_line_that_is_missing_is_an_error(run, tmp_path):
    missing = tmp_path / "mms.toml"
    result = run("--config", str(missing), "--db", str(tmp_path / "x.sqlite3"), "info")
    assert result.exit_code != 0
    assert str(missing) in result.output and "does not exist" in result.output
