"""A real S3-compatible server on 127.0.0.1 (moto's server mode) for the tests that read and write S3.

One server runs for the whole test session and each test takes a bucket of its own. Spark reaches it
through Hadoop's S3A connector with the settings a config's `spark_conf` carries (endpoint, path-style
access, plain HTTP), and with credentials from the environment: the suite puts dummy ones there before
the JVM starts (`S3_TEST_CREDENTIALS`), because a JVM reads its environment once, when it starts.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from pipelines.spark import S3A_CONF, maven_jars

# Never a real key: S3 tests must not be able to reach an AWS account, whatever the developer's shell holds.
S3_TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
REGION = "us-east-1"
REQUIRE_JARS = "BILLING_LAKEHOUSE_REQUIRE_JARS"


@dataclass(frozen=True)
class S3Server:
    """The running server: its endpoint and a boto3 client for putting deliveries and looking at keys."""

    endpoint: str
    client: Any

    @property
    def spark_conf(self) -> dict[str, str]:
        """What a config's `spark_conf` sets so that S3A reaches this server (credentials are not among them)."""
        return {
            "spark.hadoop.fs.s3a.endpoint": self.endpoint,
            "spark.hadoop.fs.s3a.endpoint.region": REGION,
            "spark.hadoop.fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        }

    def new_bucket(self) -> str:
        """An empty bucket no other test uses (S3A caches one file system per bucket for the session)."""
        name = f"test-{uuid.uuid4().hex[:20]}"
        self.client.create_bucket(Bucket=name)
        return name

    def upload(self, folder: Path, bucket: str, prefix: str) -> str:
        """Every file under `folder` as `<prefix>/<relative path>`; returns the prefix as an s3a:// URI."""
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            self.client.upload_file(str(file), bucket, f"{prefix}/{file.relative_to(folder).as_posix()}")
        return f"s3a://{bucket}/{prefix}"

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """The keys under `prefix`, sorted."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def reach(spark: SparkSession, settings: dict[str, str]) -> None:
    """Apply a config's `spark.hadoop.*` settings to a running session's Hadoop configuration.

    A session takes `spark_conf` when it starts; the suite's one session started before any S3 test, so
    the tests give it the same settings here (S3A reads them when it opens a bucket's file system).
    """
    hadoop = spark._jsc.hadoopConfiguration()
    for key, value in settings.items():
        hadoop.set(key.removeprefix("spark.hadoop."), value)


def map_s3_scheme(spark: SparkSession, mapped: bool) -> None:
    """s3:// read through S3A, as `build_spark` maps it for a local run of a config with s3 locations, or not at all.

    The suite's session leaves s3:// unmapped (tests of a Spark without an s3 file system rely on it); the S3
    tests map it for their duration. s3a:// always works once the connector is on the class path.
    """
    hadoop = spark._jsc.hadoopConfiguration()
    if mapped:
        hadoop.set("fs.s3.impl", S3A_CONF["spark.hadoop.fs.s3.impl"])
    else:
        hadoop.unset("fs.s3.impl")


def _s3a_missing(spark: SparkSession) -> str | None:
    if not any(jar.name.startswith("hadoop-aws") for jar in maven_jars()):
        return "no S3A connector in jars/ (run `make jars`, which needs mvn): S3 tests skipped"
    try:
        spark._jvm.java.lang.Class.forName("org.apache.hadoop.fs.s3a.S3AFileSystem")  # type: ignore[union-attr]
    except Exception:
        return "the S3A connector in jars/ did not load into the test session's JVM"
    return None


@pytest.fixture(scope="session")
def s3_server(spark: SparkSession) -> Iterator[S3Server]:
    """moto's S3 server on a free port of 127.0.0.1, with the session's S3A pointed at it."""
    missing = _s3a_missing(spark)
    if missing and os.environ.get(REQUIRE_JARS):
        pytest.fail(f"{missing}, but {REQUIRE_JARS} is set")
    if missing:
        pytest.skip(missing)
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=S3_TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    running = S3Server(endpoint, client)
    reach(spark, running.spark_conf)
    try:
        yield running
    finally:
        server.stop()


@pytest.fixture
def s3(spark: SparkSession, s3_server: S3Server) -> Iterator[S3Server]:
    """The session's S3 server, with s3:// paths read through S3A for this test."""
    map_s3_scheme(spark, True)
    try:
        yield s3_server
    finally:
        map_s3_scheme(spark, False)
