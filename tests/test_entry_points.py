"""The `billing-lakehouse` command and the spark-submit job on a tiny configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from benchmarks.generate import generate
from pipelines.cli import main
from tests.conftest import REPO, write_config


def test_cli_ingest_transform_status_and_summary_exit_non_zero_when_a_delivery_is_rejected(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "data" / "billable-usage" / "csv"
    generate(tmp_path / "data", rows=120, months=1, workspaces=1, malformed=1)
    (folder / "notes.csv").write_text("hello\n")
    config = write_config(tmp_path, folder, tmp_path / "data" / "list_prices")

    assert main(["ingest", "--config", str(config)]) == 1  # the other delivery still lands
    out = capsys.readouterr().out
    assert "1 deliveries landed, 1 rejected" in out and "REJECTED" in out and "notes.csv" in out
    assert "gold." not in out  # ingest stops at bronze
    assert main(["transform", "--config", str(config)]) == 0
    assert "gold.cost v0" in capsys.readouterr().out
    assert main(["status", "--config", str(config)]) == 0
    status = capsys.readouterr().out
    assert "gold.cost" in status and "legacy_csv" in status
    assert main(["summary", "--config", str(config)]) == 0
    assert "Cost per SKU" in capsys.readouterr().out


def test_cli_reports_bad_config_without_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, tmp_path / "csv", None, extra="storage: nowhere\n")
    config.write_text(config.read_text().replace("storage: delta-rs\n", ""))
    assert main(["run", "--config", str(config)]) == 2
    assert "storage: expected one of auto, delta-rs, delta-spark" in capsys.readouterr().err
    assert not (tmp_path / "warehouse").exists()


def test_spark_submit_runs_the_pipeline(tmp_path: Path) -> None:
    generate(tmp_path / "data", rows=60, months=1, workspaces=1, malformed=0)
    config = write_config(tmp_path, tmp_path / "data" / "billable-usage" / "csv", tmp_path / "data" / "list_prices")
    spark_submit = Path(sys.executable).parent / "spark-submit"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    done = subprocess.run(
        [str(spark_submit), "--master", "local[2]", str(REPO / "jobs" / "run_pipeline.py"), "--config", str(config)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1 deliveries landed" in done.stdout
    assert (tmp_path / "warehouse" / "gold" / "cost_daily" / "_delta_log").is_dir()


def test_missing_source_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, tmp_path / "not-mounted", None)
    assert main(["-v", "run", "--config", str(config)]) == 2
    assert "source location does not exist" in capsys.readouterr().err


def test_emails_are_masked_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from pipelines.logs import RedactingFilter, mask_emails

    assert mask_emails("owner ana.silva@example.com ran it") == "owner a***@example.com ran it"
    logger = logging.getLogger("billing-lakehouse-test")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="billing-lakehouse-test"):
        logger.info("cluster owned by %s", "jose.nunez@example.com")
    assert "jose.nunez" not in caplog.text and "j***@example.com" in caplog.text
