"""The command as a user meets it: where the config comes from, what --help says, what a failure says."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from pipelines.cli import COMMANDS, main
from tests.conftest import write_config

CONFIG_VARIABLE = "BILLING_LAKEHOUSE_CONFIG"


def test_help_describes_the_tool_its_commands_and_where_to_start(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_code:
        main(["--help"])
    assert exit_code.value.code == 0
    out = capsys.readouterr().out
    assert "cost tables you can trust to the cent" in out
    assert all(command in out for command in COMMANDS)
    assert "where to start:" in out and "billing-lakehouse run" in out
    assert CONFIG_VARIABLE in out and "conf/pipeline.yml" in out
    assert "parse arguments" not in out and "build the session" not in out  # not the module's internals


def test_config_comes_from_the_environment_variable_when_config_is_omitted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, tmp_path / "csv", None)
    monkeypatch.setenv(CONFIG_VARIABLE, str(config))
    monkeypatch.chdir(tmp_path)  # no conf/pipeline.yml here
    assert main(["status"]) == 0
    assert str(tmp_path / "warehouse" / "bronze" / "legacy_usage") in capsys.readouterr().out


def test_config_comes_from_conf_pipeline_yml_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "conf").mkdir()
    config = write_config(tmp_path / "conf", tmp_path / "csv", None)
    monkeypatch.delenv(CONFIG_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["status"]) == 0
    assert str(tmp_path / "conf" / "warehouse" / "bronze" / "legacy_usage") in capsys.readouterr().out

    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv(CONFIG_VARIABLE, str(write_config(other, tmp_path / "csv", None)))
    assert main(["status"]) == 0  # the variable wins over the working directory's file ...
    assert str(other / "warehouse") in capsys.readouterr().out
    assert main(["status", "--config", str(config)]) == 0  # ... and --config over both
    assert str(tmp_path / "conf" / "warehouse") in capsys.readouterr().out


def test_without_any_config_the_error_names_every_place_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(CONFIG_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "--config" in err and CONFIG_VARIABLE in err and "conf/pipeline.yml" in err
    assert not (tmp_path / "warehouse").exists()


def test_an_s3_path_without_an_s3_file_system_fails_in_one_line_naming_the_scheme_and_the_fix(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, None, None, sources="  legacy_csv:\n    path: s3://bucket/prefix\n")
    assert main(["run", "--config", str(config), "--log-format", "text"]) == 3
    err = capsys.readouterr().err
    (failure,) = [line for line in err.splitlines() if line.startswith("billing-lakehouse:")]
    assert failure.startswith("billing-lakehouse: failed: no file system for scheme s3: ")
    assert "storage: delta-spark" in failure and "spark.hadoop.fs.s3.impl" in failure
    assert "Py4JJavaError" not in err and "\tat " not in err  # no trace unless asked for

    assert main(["run", "--config", str(config), "--log-format", "text", "-v"]) == 3
    err = capsys.readouterr().err
    assert "UnsupportedFileSystemException" in err and "\tat org.apache.hadoop" in err  # -v shows the trace
    assert err.rstrip().splitlines()[-1].startswith("billing-lakehouse: failed: no file system for scheme s3: ")
