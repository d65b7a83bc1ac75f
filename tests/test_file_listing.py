"""Files are listed the same whichever lister runs: this process for a classic session's local folders, Spark's
binaryFile source for everything else (Spark Connect, object stores). Paths, sizes and modification times must
agree exactly: the ingest log compares them to skip unchanged files on every run."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from pipelines.errors import SourceMissing
from pipelines.sources.files import (
    _delivered,
    _first_line_by_spark,
    _listed_by_spark,
    first_line,
    list_files,
    location_exists,
)


def _folder(root: Path) -> Path:
    """Deliveries with what a listing must skip: hidden and `_`-prefixed files and folders, and nested folders."""
    files = {
        "a.csv": "h1,h2\r\n1,2\n",
        "with space=1.csv": "\ufeffh\n",
        "empty.csv": "",
        ".hidden.csv": "x\n",
        "_SUCCESS": "",
        "export_date=2024-03-01/part-0.csv": "h\n",
        "export_date=2024-03-01/.part-0.csv.crc": "x",
        "_temporary/part-1.csv": "h\n",
        ".git/config": "x",
        "deep/er/part-2.csv": "h\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    os.utime(root / "a.csv", ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))  # sub-millisecond time
    return root


@pytest.mark.parametrize("recursive", [False, True], ids=["flat", "recursive"])
def test_local_listing_gives_the_paths_sizes_and_times_spark_lists(
    spark: SparkSession, tmp_path: Path, recursive: bool
) -> None:
    root = str(_folder(tmp_path / "in"))
    here = list_files(spark, root, recursive)
    by_spark = _delivered(root, _listed_by_spark(spark, root), recursive)
    # Spark gives an empty file no row, so no modification time (0); an empty file is never read: that costs nothing.
    assert [replace(f, modified_ms=0) if f.size == 0 else f for f in here] == by_spark
    names = [f.path.removeprefix("file:" + root + "/") for f in here]
    nested = ["deep/er/part-2.csv", "export_date=2024-03-01/part-0.csv"] if recursive else []
    assert names == sorted(["a.csv", "empty.csv", "with space=1.csv", *nested])
    assert next(f for f in here if f.name == "a.csv").modified_ms == 1_700_000_000_123


def test_a_single_file_and_a_missing_location(spark: SparkSession, tmp_path: Path) -> None:
    root = _folder(tmp_path / "in")
    single = str(root / "a.csv")
    assert list_files(spark, single) == _delivered(single, _listed_by_spark(spark, single), False)
    assert [f.name for f in list_files(spark, single)] == ["a.csv"]
    missing = str(tmp_path / "nothing")
    assert not location_exists(spark, missing)
    with pytest.raises(SourceMissing):
        list_files(spark, missing)
    with pytest.raises(SourceMissing):
        _listed_by_spark(spark, missing)


def test_first_lines_read_here_and_by_spark_agree(spark: SparkSession, tmp_path: Path) -> None:
    root = str(_folder(tmp_path / "in"))
    for file in list_files(spark, root, recursive=True):
        by_spark = _first_line_by_spark(spark, file.path)
        assert first_line(spark, file) == (None if by_spark is None else by_spark.lstrip("\ufeff"))
    by_name = {f.name: f for f in list_files(spark, root)}
    assert first_line(spark, by_name["a.csv"]) == "h1,h2"
    assert first_line(spark, by_name["with space=1.csv"]) == "h"
    assert first_line(spark, by_name["empty.csv"]) is None
