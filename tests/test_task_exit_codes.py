"""A failed stage fails its Databricks task: the entry points raise `SystemExit(code)` for every non-zero exit.

A `python_wheel_task` loads the function the wheel's `console_scripts` metadata names, sets `sys.argv` to the
task's parameters, calls it and ignores what it returns: only an exception fails the task. A `spark_python_task`
runs a `jobs/*.py` script as `__main__`. Both are called here the same way; success returns without raising.
"""

from __future__ import annotations

import runpy
import subprocess
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from tests.conftest import REPO, write_config

JOBS = sorted((REPO / "jobs").glob("*.py"))


def wheel_entry_point(name: str = "billing-lakehouse"):
    """The function a wheel task calls: the installed distribution's `console_scripts` entry named `name`."""
    (entry,) = entry_points(group="console_scripts", name=name)
    return entry.load()


def test_the_wheel_entry_point_is_the_one_pyproject_declares():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    (entry,) = entry_points(group="console_scripts", name="billing-lakehouse")
    assert entry.value == scripts["billing-lakehouse"] == "pipelines.cli:entry_point"


def test_a_config_error_raises_system_exit_2_as_a_wheel_task_calls_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["billing-lakehouse", "ingest", "--config", str(tmp_path / "missing.yml")])
    with pytest.raises(SystemExit) as raised:
        wheel_entry_point()()
    assert raised.value.code == 2
    assert "missing.yml" in capsys.readouterr().err


def test_a_rejected_delivery_raises_system_exit_1_as_a_wheel_task_calls_it(
    spark: SparkSession, tmp_path, monkeypatch, capsys
):
    deliveries = tmp_path / "csv"
    deliveries.mkdir()
    (deliveries / "workspaceId=1111111111111111-usageMonth=2024-01.csv").write_text("not,the,header\n")
    config = write_config(tmp_path, deliveries, None)
    monkeypatch.setattr(sys, "argv", ["billing-lakehouse", "ingest", "--config", str(config)])
    with pytest.raises(SystemExit) as raised:
        wheel_entry_point()()
    assert raised.value.code == 1
    assert "1 deliveries were rejected" in capsys.readouterr().err


def test_a_successful_command_returns_without_raising_as_a_wheel_task_calls_it(tmp_path, monkeypatch, capsys):
    config = write_config(tmp_path, None, None)  # no sources, no tables yet: status answers without Spark
    monkeypatch.setattr(sys, "argv", ["billing-lakehouse", "status", "--config", str(config)])
    assert wheel_entry_point()() is None
    assert "gold.cost" in capsys.readouterr().out


@pytest.mark.parametrize("job", JOBS, ids=lambda path: path.stem)
def test_every_spark_python_task_script_raises_system_exit_on_failure(job: Path, tmp_path, monkeypatch):
    arguments = ["--config", str(tmp_path / "missing.yml")]
    monkeypatch.setattr(sys, "argv", [str(job), *arguments])
    with pytest.raises(SystemExit) as raised:
        runpy.run_path(str(job), run_name="__main__")
    assert raised.value.code == 2


def test_the_console_script_keeps_the_exit_codes(tmp_path):
    script = Path(sys.executable).parent / "billing-lakehouse"
    failed = subprocess.run([str(script), "run", "--config", str(tmp_path / "missing.yml")], capture_output=True)
    assert failed.returncode == 2 and b"missing.yml" in failed.stderr
    config = write_config(tmp_path, None, None)
    succeeded = subprocess.run([str(script), "status", "--config", str(config)], capture_output=True)
    assert succeeded.returncode == 0, succeeded.stderr
