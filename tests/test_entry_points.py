"""The `billing-lakehouse` command and the spark-submit job on a tiny configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from deltalake import DeltaTable
from pyspark.sql import SparkSession

from benchmarks.generate import generate
from pipelines.cli import main
from pipelines.report.html import money
from pipelines.spark import local_jars_conf
from tests.conftest import REPO, write_config


def test_cli_ingest_transform_status_and_summary_exit_non_zero_when_a_delivery_is_rejected(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "data" / "billable-usage" / "csv"
    generate(tmp_path / "data", rows=120, months=1, workspaces=1, malformed=1)
    (folder / "notes.csv").write_text("hello\n")
    config = write_config(tmp_path, folder, tmp_path / "data" / "list_prices")

    assert main(["ingest", "--config", str(config)]) == 1  # the other delivery still lands
    out, err = capsys.readouterr()
    assert "1 deliveries landed, 1 rejected" in out and "REJECTED" in out and "notes.csv" in out
    assert "gold." not in out  # ingest stops at bronze
    logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]  # one JSON object per line
    assert "1 deliveries were rejected" in err
    assert {(line["level"], line["logger"]) for line in logged} == {
        ("info", "pipelines.progress"),
        ("warning", "pipelines.bronze.land_legacy"),
    }  # progress and the rejection, no decisions unless --verbose
    landed = next(line for line in logged if "rows_read" in line)
    assert (landed["rows_read"], landed["rows_landed"], landed["rows_quarantined"]) == (120, 119, 1)

    assert main(["transform", "--config", str(config), "-v", "--log-format", "text"]) == 0
    out, err = capsys.readouterr()
    assert "gold.cost v0" in out
    assert "info rebuilding silver.usage because first build" in err  # --verbose explains each decision
    assert main(["status", "--config", str(config)]) == 0
    status = capsys.readouterr().out
    assert "gold.cost" in status and "legacy_csv" in status and "deliveries/windows" in status
    assert main(["summary", "--config", str(config)]) == 0
    assert "Cost per SKU" in capsys.readouterr().out


def test_cli_reports_bad_config_without_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, tmp_path / "csv", None, extra="storage: nowhere\n")
    config.write_text(config.read_text().replace("storage: delta-rs\n", ""))
    assert main(["run", "--config", str(config)]) == 2
    assert "storage: expected one of auto, delta-rs, delta-spark" in capsys.readouterr().err
    assert not (tmp_path / "warehouse").exists()


# A short-lived JVM on a few rows: the quick JIT compiler and no whole-stage code generation start sooner.
TINY_DATA_OPTIONS = [
    "--driver-java-options",
    "-XX:TieredStopAtLevel=1",
    "--conf",
    "spark.sql.codegen.wholeStage=false",
    "--conf",
    "spark.sql.shuffle.partitions=1",
]


def _spark_submit(script: str, config: Path) -> subprocess.Popen[str]:
    """Start `spark-submit jobs/<script> --config <config>` on local Spark, from the config's folder."""
    spark_submit = Path(sys.executable).parent / "spark-submit"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    local_fs = [option for key, value in local_jars_conf().items() for option in ("--conf", f"{key}={value}")]
    command = [str(spark_submit), "--master", "local[2]", *TINY_DATA_OPTIONS, *local_fs, str(REPO / "jobs" / script)]
    command += ["--config", str(config)]
    return subprocess.Popen(
        command, cwd=config.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(job: subprocess.Popen[str]) -> str:
    out, err = job.communicate(timeout=300)
    assert job.returncode == 0, err[-3000:]
    return out


def _gold_total(warehouse: Path) -> Decimal:
    cost = DeltaTable(str(warehouse / "gold" / "cost_daily")).to_pyarrow_table(columns=["effective_cost"])
    return sum((v for v in cost.column("effective_cost").to_pylist() if v is not None), Decimal(0))


def test_spark_submit_runs_each_stage_script_and_the_full_run(tmp_path: Path) -> None:
    configs = []
    for name in ("staged", "full"):
        folder = tmp_path / name
        generate(folder / "data", rows=60, months=1, workspaces=1, malformed=0)
        configs.append(
            write_config(folder, folder / "data" / "billable-usage" / "csv", folder / "data" / "list_prices")
        )
    staged, full = configs

    # Two chains side by side, each in its own warehouse: the stage scripts, and the full run then its report.
    full_run = _spark_submit("run_pipeline.py", full)
    ingested = _finish(_spark_submit("ingest.py", staged))
    assert "1 deliveries landed" in ingested and "gold." not in ingested
    assert (staged.parent / "warehouse" / "bronze" / "legacy_usage").is_dir()
    assert not (staged.parent / "warehouse" / "silver").exists()
    transform = _spark_submit("transform.py", staged)
    assert "1 deliveries landed" in _finish(full_run)
    reporting = _spark_submit("report.py", full)
    assert "gold.cost v0" in _finish(transform)
    reported = _finish(reporting)
    report = full.parent / "report.html"
    assert str(report) in reported and report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")

    staged_total, full_total = _gold_total(staged.parent / "warehouse"), _gold_total(full.parent / "warehouse")
    assert staged_total == full_total and staged_total > 0
    assert f'id="total-cost">{money(staged_total)} USD<' in report.read_text(encoding="utf-8")


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
