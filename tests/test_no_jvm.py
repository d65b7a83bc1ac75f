"""Pipeline code never reaches for the JVM gateway: Databricks serverless and standard access mode are Spark
Connect, where a session has no `_jvm`, `_jsc` or `sparkContext` and there are no RDDs. tests/test_spark_connect.py
runs every stage on a Connect session; this check finds the names even on paths that run seldom."""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

from tests.conftest import REPO

# Names that only a classic session's JVM gateway has (py4j): pipeline code must work without them.
JVM_NAMES = frozenset(
    {"_jvm", "_jsc", "_jdf", "_jconf", "_jsparkSession", "sparkContext", "SparkContext", "rdd", "py4j"}
)


def _jvm_names_used(path: Path) -> list[str]:
    """`name (line)` for each code token (not a comment or string) that names the JVM gateway."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    return [f"{t.string} (line {t.start[0]})" for t in tokens if t.type == tokenize.NAME and t.string in JVM_NAMES]


def test_pipeline_code_never_names_the_jvm_gateway() -> None:
    used = {
        str(path.relative_to(REPO)): names
        for folder in ("pipelines", "jobs")
        for path in sorted((REPO / folder).rglob("*.py"))
        if (names := _jvm_names_used(path))
    }
    assert used == {}
