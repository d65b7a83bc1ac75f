"""A real Spark Connect server on 127.0.0.1 for the tests of the serverless path (no JVM in the client).

pyspark 4.0 ships the server (`org.apache.spark.sql.connect.service.SparkConnectServer` in its own jars);
the test starts it with spark-submit on a free port, with the Delta Lake jars and settings a local session
gets (`local_jars_conf`), and the suite's small-data settings. Clients run in their own processes
(`tests/connect_client.py`): a Connect session marks its whole process as Spark Connect
(`SPARK_CONNECT_MODE_ENABLED`), which the suite's classic session must not see.

Delta's Spark Connect plugins (`delta-connect-server`, for `DeltaTable` over Connect) are not loaded: the
pipeline reads Delta tables and their history through the DataFrame API and SQL only, so it needs them
nowhere (Databricks serverless has its own).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyspark

from pipelines.spark import LOCAL_DEFAULTS, local_jars_conf

REPO = Path(__file__).resolve().parent.parent
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
START_TIMEOUT_S = 240
# Not UTC: a client session must set its own time zone (a session-level SQL setting), whatever the server's is.
SERVER_TIME_ZONE = "America/New_York"
# The server's own settings: what differs from a local session's defaults is what a client must not change.
SERVER_CONF = {
    "spark.sql.shuffle.partitions": "1",
    "spark.sql.session.timeZone": SERVER_TIME_ZONE,
    "spark.default.parallelism": "1",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.ui.enabled": "false",
    "spark.driver.memory": "2g",
    "spark.driver.extraJavaOptions": LOCAL_DEFAULTS["spark.driver.extraJavaOptions"],
    "spark.python.sql.dataFrameDebugging.enabled": "false",
}


@dataclass(frozen=True)
class ConnectServer:
    """A running server: its `sc://` URL and its log file."""

    url: str
    log: Path

    def client(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: int = 600
    ) -> subprocess.CompletedProcess:
        """`python -m tests.connect_client ARGS` with SPARK_REMOTE pointing here: the CLI, then JVM checks."""
        environment = {**os.environ, "SPARK_REMOTE": self.url, **(env or {})}
        for name in ("PYSPARK_GATEWAY_PORT", "PYSPARK_GATEWAY_SECRET", "SPARK_CONNECT_MODE_ENABLED"):
            environment.pop(name, None)
        return subprocess.run(
            [sys.executable, "-m", "tests.connect_client", *args],
            cwd=REPO,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def start_connect_server(folder: Path) -> Iterator[ConnectServer]:
    """Start a server (its warehouse and log in `folder`), yield it once it listens, stop it afterwards."""
    spark_home = Path(pyspark.__file__).resolve().parent
    connect_jar = next((spark_home / "jars").glob("spark-connect_*.jar"))
    port = _free_port()
    settings = {
        **local_jars_conf(s3=False),
        **SERVER_CONF,
        "spark.sql.warehouse.dir": str(folder / "spark-warehouse"),
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
    }
    command = [str(spark_home / "bin" / "spark-submit"), "--class", SERVER_CLASS, "--master", "local[2]"]
    for key, value in settings.items():
        command += ["--conf", f"{key}={value}"]
    command.append(str(connect_jar))
    environment = {**os.environ, "SPARK_HOME": str(spark_home)}
    for name in ("PYSPARK_GATEWAY_PORT", "PYSPARK_GATEWAY_SECRET", "PYSPARK_SUBMIT_ARGS"):
        environment.pop(name, None)
    log = folder / "connect-server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            command, cwd=folder, env=environment, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Spark Connect server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield ConnectServer(f"sc://127.0.0.1:{port}", log)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
