"""The Asset Bundle: jobs valid for the bundle schema, tasks calling entry points that accept their parameters."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from databricks.bundles.jobs import Job

from pipelines.cli import _parser
from pipelines.config import load_config
from tests.conftest import REPO

# What the bundle CLI substitutes at deploy time, with stand-ins for a workspace.
WORKSPACE = {
    "workspace.file_path": "/Workspace/Users/ana/.bundle/billing_lakehouse/dev/files",
    "workspace.current_user.short_name": "ana",
    "bundle.name": "billing_lakehouse",
    "bundle.target": "dev",
}


def _bundle() -> dict[str, Any]:
    return yaml.safe_load((REPO / "databricks.yml").read_text())


def _resolve(value: Any, variables: dict[str, str]) -> Any:
    """Substitute `${var.x}` and the workspace references the way `databricks bundle deploy` does."""
    if isinstance(value, dict):
        return {key: _resolve(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, variables) for item in value]
    if isinstance(value, str):

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("var."):
                return _resolve(variables[name.removeprefix("var.")], variables)
            return WORKSPACE[name]

        return re.sub(r"\$\{([\w.]+)\}", lookup, value)
    return value


def _variables(target: str) -> dict[str, str]:
    bundle = _bundle()
    variables = {name: spec["default"] for name, spec in bundle["variables"].items()}
    variables.update(bundle["targets"][target].get("variables", {}))
    return variables


def _local_config(path: str) -> Path:
    """The repository file a deployed workspace path refers to (the bundle syncs the repository's files)."""
    return REPO / path.removeprefix(WORKSPACE["workspace.file_path"] + "/")


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_every_job_parses_with_the_bundle_resource_classes(target: str) -> None:
    jobs = _resolve(_bundle()["resources"]["jobs"], _variables(target))
    assert jobs
    for name, job in jobs.items():
        parsed = Job.from_dict(job)  # rejects unknown fields
        assert parsed.schedule is not None and parsed.tasks, name


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_every_task_calls_an_entry_point_that_accepts_its_parameters(target: str) -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    distribution = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["name"]
    tasks = [
        task for job in _resolve(_bundle()["resources"]["jobs"], _variables(target)).values() for task in job["tasks"]
    ]
    assert {task["task_key"] for task in tasks} >= {"ingest", "transform", "report"}
    for task in tasks:
        wheel_task = task["python_wheel_task"]
        assert wheel_task["package_name"] == distribution.replace("-", "_")
        assert scripts[wheel_task["entry_point"]] == "pipelines.cli:entry_point"
        parameters = wheel_task["parameters"]
        try:
            args = _parser().parse_args(parameters)
        except SystemExit:
            pytest.fail(f"{task['task_key']}: the CLI rejects {shlex.join(parameters)}")
        config = load_config(_local_config(args.config), args.overrides)
        assert config.storage == "delta-spark" and config.catalog == "main"
        if target == "dev":
            assert config.schemas["gold"] == "ana_billing_gold"  # a schema per developer


def test_targets_and_cluster_follow_the_runtime_requirements() -> None:
    bundle = _bundle()
    assert bundle["targets"]["dev"]["mode"] == "development" and bundle["targets"]["dev"]["default"] is True
    assert bundle["targets"]["prod"]["mode"] == "production"
    assert bundle["variables"]["spark_version"]["default"].startswith("17.")
    cluster = bundle["resources"]["jobs"]["billing_lakehouse"]["job_clusters"][0]["new_cluster"]
    # secrets come from a secret scope at run time, never from the bundle file
    assert all(value.startswith("{{secrets/") for value in cluster["spark_env_vars"].values())
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not any(d.startswith(("pyspark", "delta-spark")) for d in dependencies)  # the runtime's own are used
