"""A Spark Connect client process for the tests (SPARK_REMOTE names the server, as on a Connect cluster).

    python -m tests.connect_client cli ARGS...   # billing-lakehouse ARGS, in this process
    python -m tests.connect_client session       # build_spark's session settings, as JSON on stdout

Afterwards the process must hold a Spark Connect session that refuses every JVM attribute, and no JVM
gateway (py4j) may have started in it: pipeline code that reached for the JVM (`_jvm`, `_jsc`,
`sparkContext`, RDDs) fails here, either at the attribute or here. Exit 97 names a JVM that was used.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

JVM_ATTRIBUTES = ("_jvm", "_jsc", "sparkContext")
# What the session test reads back: settings a local session would change, and one the run needs.
SESSION_KEYS = (
    "spark.master",
    "spark.sql.shuffle.partitions",
    "spark.sql.files.maxPartitionBytes",
    "spark.sql.session.timeZone",
    "spark.sql.parquet.outputTimestampType",
)
JVM_USED = 97


def _jvm_problems() -> list[str]:
    from pyspark import SparkContext
    from pyspark.errors import PySparkAttributeError
    from pyspark.sql import SparkSession

    from pipelines.spark import is_connect

    problems = []
    if SparkContext._gateway is not None or SparkContext._active_spark_context is not None:
        problems.append("a JVM gateway (py4j) was started in the client process")
    session = SparkSession.getActiveSession()
    if session is None or not is_connect(session):
        problems.append(f"the active session is not a Spark Connect session: {type(session)}")
        return problems
    for name in JVM_ATTRIBUTES:
        try:
            getattr(session, name)
        except PySparkAttributeError:
            continue
        problems.append(f"the Connect session gave {name}")
    return problems


def _session_settings() -> dict[str, str | None]:
    from pipelines.spark import build_spark

    # A config's spark_conf and local defaults must not reach a cluster's session.
    session = build_spark(conf={"spark.sql.shuffle.partitions": "8", "spark.master": "local[*]"})
    settings: dict[str, str | None] = {key: session.conf.get(key, None) for key in SESSION_KEYS}
    settings["session_type"] = type(session).__module__
    return settings


def main(argv: Sequence[str]) -> int:
    mode, *args = argv
    if mode == "cli":
        from pipelines.cli import main as cli

        try:
            code = cli(args)
        except SystemExit as stop:  # the entry point raises for a non-zero exit
            code = stop.code if isinstance(stop.code, int) else 1
    elif mode == "session":
        print(json.dumps(_session_settings()))
        code = 0
    else:
        raise SystemExit(f"unknown mode {mode}")
    problems = _jvm_problems()
    for problem in problems:
        print(f"JVM used: {problem}", file=sys.stderr)
    return JVM_USED if problems else int(code or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
