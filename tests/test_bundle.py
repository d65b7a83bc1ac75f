"""The Asset Bundle deploys as it stands: every target, with its variables unset and set, renders into resources the
bundle classes accept, tasks that call real entry points, and configs that load with only the sources switched on.

The `databricks` CLI is not a Python package, so `render` does what `databricks bundle validate` does to this file:
variable values (defaults, the target's, then `--var`, else a lookup's result), the target's overrides, development
mode's prefixes (schemas, the job's and the dashboard's names), the workspace paths, and the `${...}` references it
substitutes. Its published JSON schema could not be fetched here (the Go module
proxy refuses github.com/databricks/cli), so the shape is checked with the `databricks-bundles` resource classes,
which reject unknown fields.
"""

from __future__ import annotations

import copy
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from databricks.bundles.dashboards import Dashboard
from databricks.bundles.jobs import Job, JobRunAs
from databricks.bundles.schemas import Schema
from databricks.bundles.volumes import Volume

from pipelines.cli import _parser
from pipelines.config import PipelineConfig, load_config
from pipelines.notebook import PARAMETERS
from tests.conftest import REPO

USER = "ana"
# The CLI's default workspace.root_path for the deploying user; file_path and resource_path lie under it.
DEFAULT_ROOT_PATH = "/Workspace/Users/ana@example.com/.bundle/${bundle.name}/${bundle.target}"
# What a variable's `lookup` resolves to in the test workspace (the CLI asks the workspace for the named object).
LOOKUPS = {("warehouse", "Serverless Starter Warehouse"): "4f1c2e7a9b3d5e60"}
REFERENCE = re.compile(r"\$\{([\w.-]+)\}")
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))

# The optional sources' variables: each combination a user may set (legacy CSV and the Account API deliver the same
# usage, so a config takes one of them).
UNSET: dict[str, Any] = {}
LEGACY_AND_DREMIO = {
    "legacy_csv_path": "s3://acme-billing/billable-usage/csv",
    "dremio_base_url": "https://api.eu.dremio.cloud",
    "dremio_frequency": "DAILY",
}
ACCOUNT_API = {"account_id": "0123-4567", "account_api_start_month": "2024-01"}
ACCOUNT_PRICES = {"account_prices_table": "system.billing.account_prices"}
PROD = {"run_as_service_principal": "6f0c8f2e-1111-2222-3333-444455556666", "failure_emails": ["finops@example.com"]}
# The dashboard's warehouse given instead of looked up, in another catalog and gold schema.
ELSEWHERE = {"warehouse_id": "0a1b2c3d4e5f6789", "catalog": "finance", "gold_schema": "costs"}
RENDERINGS = [
    ("dev", UNSET),
    ("prod", UNSET),
    ("dev", LEGACY_AND_DREMIO),
    ("prod", {**PROD, **LEGACY_AND_DREMIO}),
    ("dev", ACCOUNT_API),
    ("prod", {**PROD, **ACCOUNT_API}),
    ("dev", ACCOUNT_PRICES),
    ("prod", {**PROD, **ACCOUNT_PRICES}),
    ("dev", ELSEWHERE),
    ("prod", {**PROD, **ELSEWHERE}),
]
IDS = [f"{target}-{'+'.join(sorted(values)) or 'defaults'}" for target, values in RENDERINGS]


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A target's mapping laid over the top-level one, key by key (the CLI merges targets the same way)."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and key in merged else value
    return merged


def _substitute(value: Any, lookup: Any) -> Any:
    """Replace every `${name}` that `lookup` knows; a string that is one whole reference takes the value's type."""
    if isinstance(value, dict):
        return {key: _substitute(item, lookup) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, lookup) for item in value]
    if not isinstance(value, str):
        return value
    whole = REFERENCE.fullmatch(value)
    if whole and lookup(whole.group(1)) is not None:
        return lookup(whole.group(1))
    return REFERENCE.sub(lambda m: str(found) if (found := lookup(m.group(1))) is not None else m.group(0), value)


def render(target: str, variables: dict[str, Any]) -> dict[str, Any]:
    """databricks.yml as `databricks bundle deploy -t <target> --var ...` resolves it for the user `ana`."""
    bundle = yaml.safe_load((REPO / "databricks.yml").read_text(encoding="utf-8"))
    settings = bundle["targets"][target]
    values = {name: spec.get("default") for name, spec in bundle["variables"].items()}
    values.update(settings.get("variables", {}))
    unknown = set(variables) - set(values)
    assert not unknown, f"--var of undeclared variables {unknown}"
    values.update(variables)
    for name, spec in bundle["variables"].items():  # a lookup runs only for a variable that has no value
        if values[name] is None and "lookup" in spec:
            ((kind, looked_up),) = spec["lookup"].items()
            values[name] = LOOKUPS[(kind, looked_up)]
    rendered = {key: copy.deepcopy(value) for key, value in bundle.items() if key not in ("targets", "variables")}
    for key in ("resources", "workspace", "run_as"):
        if key in settings:
            rendered[key] = _merge(rendered.get(key, {}), settings[key])
    root_path = root_path_of(target)
    context = {
        "bundle.name": bundle["bundle"]["name"],
        "bundle.target": target,
        "workspace.current_user.short_name": USER,
        "workspace.root_path": root_path,
        "workspace.file_path": f"{root_path}/files",
        "workspace.resource_path": f"{root_path}/resources",
    }

    def variable(name: str) -> Any:
        if name.startswith("var."):
            return values[name.removeprefix("var.")]
        return context.get(name)

    rendered = _substitute(rendered, variable)
    if settings.get("mode") == "development":  # the CLI's presets: dev_<user>_ schemas, [dev <user>] names
        for schema in rendered["resources"].get("schemas", {}).values():
            schema["name"] = f"dev_{USER}_{schema['name']}"
        for job in rendered["resources"]["jobs"].values():
            job["name"] = f"[dev {USER}] {job['name']}"
        for dashboard in rendered["resources"].get("dashboards", {}).values():
            dashboard["display_name"] = f"[dev {USER}] {dashboard['display_name']}"

    def resource(name: str) -> Any:
        parts = name.split(".")
        if parts[0] != "resources" or len(parts) != 4:
            return None
        return rendered["resources"].get(parts[1], {}).get(parts[2], {}).get(parts[3])

    return _substitute(rendered, resource)


def root_path_of(target: str) -> str:
    """The target's workspace.root_path (its own, else the CLI's default for the deploying user)."""
    bundle = yaml.safe_load((REPO / "databricks.yml").read_text(encoding="utf-8"))
    root = bundle["targets"][target].get("workspace", {}).get("root_path", DEFAULT_ROOT_PATH)
    return root.replace("${bundle.name}", bundle["bundle"]["name"]).replace("${bundle.target}", target)


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [ref for item in value.values() for ref in _references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _references(item)]
    return REFERENCE.findall(value) if isinstance(value, str) else []


def _tasks(rendered: dict[str, Any]) -> list[dict[str, Any]]:
    return [task for job in rendered["resources"]["jobs"].values() for task in job["tasks"]]


def _wheel_task_config(task: dict[str, Any], target: str) -> PipelineConfig:
    """The config a wheel task's parameters load, through the CLI's parser and the project's config loader."""
    parameters = task["python_wheel_task"]["parameters"]
    try:
        args = _parser().parse_args(parameters)
    except SystemExit:
        pytest.fail(f"{task['task_key']}: the CLI rejects {shlex.join(parameters)}")
    local = REPO / args.config.removeprefix(f"{root_path_of(target)}/files/")  # the bundle syncs the repository
    return load_config(local, args.overrides)


def _schemas(target: str) -> dict[str, str]:
    prefix = f"dev_{USER}_" if target == "dev" else ""
    return {layer: f"{prefix}billing_{layer}" for layer in ("bronze", "silver", "gold")}


@pytest.mark.parametrize(("target", "variables"), RENDERINGS, ids=IDS)
def test_every_reference_resolves_and_every_resource_parses(target, variables):
    rendered = render(target, variables)
    assert _references(rendered) == []  # every ${...} names a variable, a workspace value or a resource field
    resources = rendered["resources"]
    assert set(resources["schemas"]) == {"bronze", "silver", "gold"}
    for schema in resources["schemas"].values():
        Schema.from_dict(schema)  # rejects unknown fields
    assert set(resources["volumes"]) == {"landing", "reports"}
    for volume in resources["volumes"].values():
        Volume.from_dict(volume)
    for name, job in resources["jobs"].items():
        parsed = Job.from_dict(job)
        assert parsed.schedule is not None and parsed.tasks, name
    if "run_as" in rendered:
        JobRunAs.from_dict(rendered["run_as"])
    assert set(resources["dashboards"]) == {"billing_lakehouse"}
    for dashboard in resources["dashboards"].values():
        Dashboard.from_dict(dashboard)


@pytest.mark.parametrize(("target", "variables"), RENDERINGS, ids=IDS)
def test_the_dashboard_reads_the_targets_gold_schema_on_the_chosen_warehouse(target, variables):
    """Its queries name tables only (tests/test_dashboard.py): dataset_catalog and dataset_schema pick the gold ones."""
    rendered = render(target, variables)
    dashboard = rendered["resources"]["dashboards"]["billing_lakehouse"]
    gold = rendered["resources"]["schemas"]["gold"]
    assert (dashboard["dataset_catalog"], dashboard["dataset_schema"]) == (gold["catalog_name"], gold["name"])
    assert dashboard["dataset_catalog"] == variables.get("catalog", "main")
    assert dashboard["dataset_schema"] == ("dev_ana_" if target == "dev" else "") + variables.get(
        "gold_schema", "billing_gold"
    )
    assert dashboard["warehouse_id"] == variables.get(
        "warehouse_id", LOOKUPS[("warehouse", "Serverless Starter Warehouse")]
    )
    assert dashboard["parent_path"] == f"{root_path_of(target)}/resources"
    assert (REPO / dashboard["file_path"]).is_file() and dashboard["file_path"].endswith(".lvdash.json")
    # The CLI refuses embedded credentials where the bundle runs as someone else (prod's service principal).
    assert dashboard["embed_credentials"] is False
    assert dashboard["display_name"] == ("[dev ana] " if target == "dev" else "") + "Billing lakehouse"


@pytest.mark.parametrize(("target", "variables"), RENDERINGS, ids=IDS)
def test_every_task_calls_an_entry_point_or_notebook_that_exists(target, variables):
    scripts = PYPROJECT["project"]["scripts"]
    tasks = _tasks(render(target, variables))
    assert {task["task_key"] for task in tasks} == {"ingest", "transform", "report", "cost_overview"}
    for task in tasks:
        if "python_wheel_task" in task:
            wheel_task = task["python_wheel_task"]
            assert wheel_task["package_name"] == PYPROJECT["project"]["name"].replace("-", "_")
            assert scripts[wheel_task["entry_point"]] == "pipelines.cli:entry_point"  # raises on failure
        else:
            notebook = REPO / task["notebook_task"]["notebook_path"]
            assert notebook.read_text(encoding="utf-8").startswith("# Databricks notebook source\n"), notebook


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_the_defaults_describe_a_databricks_only_account(target):
    rendered = render(target, PROD if target == "prod" else UNSET)
    for task in _tasks(rendered):
        if "python_wheel_task" not in task:
            continue
        config = _wheel_task_config(task, target)
        assert (config.legacy_csv, config.account_api, config.dremio, config.account_id) == (None, None, None, None)
        assert config.account_prices is None
        assert config.system_usage is not None and config.system_usage.table == "system.billing.usage"
        assert config.list_prices is not None and config.list_prices.table == "system.billing.list_prices"
        assert (config.storage, config.catalog, config.schemas) == ("delta-spark", "main", _schemas(target))
        # the run's lease lives in the landing volume the bundle creates
        assert config.warehouse == f"/Volumes/main/{_schemas(target)['bronze']}/landing"


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_nothing_a_databricks_only_account_lacks_is_referenced_by_default(target):
    text = yaml.safe_dump(render(target, PROD if target == "prod" else UNSET))
    assert "{{secrets/" not in text and "s3://" not in text and "dremio.cloud" not in text
    for task in _tasks(render(target, UNSET)):
        assert "libraries" not in task and "job_cluster_key" not in task  # serverless: the environment has the wheel


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_the_optional_source_variables_switch_their_sources_on(target):
    ingest = next(task for task in _tasks(render(target, LEGACY_AND_DREMIO)) if task["task_key"] == "ingest")
    config = _wheel_task_config(ingest, target)
    assert config.legacy_csv is not None and config.legacy_csv.path == "s3://acme-billing/billable-usage/csv"
    assert config.dremio is not None
    assert (config.dremio.base_url, config.dremio.frequency) == ("https://api.eu.dremio.cloud", "DAILY")
    assert config.account_api is None

    ingest = next(task for task in _tasks(render(target, ACCOUNT_API)) if task["task_key"] == "ingest")
    config = _wheel_task_config(ingest, target)
    assert config.account_api is not None and config.account_api.start_month == "2024-01"
    assert config.account_id == "0123-4567" and config.legacy_csv is None and config.dremio is None
    assert config.account_api.landing.startswith(f"/Volumes/main/{_schemas(target)['bronze']}/landing/")
    assert config.account_prices is None


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_the_account_prices_variable_switches_contracted_prices_on_for_ingest_and_transform(target):
    tasks = _tasks(render(target, ACCOUNT_PRICES))
    for task in (task for task in tasks if task["task_key"] in ("ingest", "transform")):
        config = _wheel_task_config(task, target)
        assert config.account_prices is not None and config.account_prices.table == "system.billing.account_prices"
        assert (config.legacy_csv, config.account_api, config.dremio) == (None, None, None)


def test_serverless_compute_installs_the_wheel_for_every_wheel_task():
    job = render("dev", UNSET)["resources"]["jobs"]["billing_lakehouse"]
    environments = {environment["environment_key"]: environment["spec"] for environment in job["environments"]}
    for task in job["tasks"]:
        if "python_wheel_task" in task:
            assert "./dist/*.whl" in environments[task["environment_key"]]["dependencies"], task["task_key"]
    assert "job_clusters" not in job


def test_the_report_is_written_into_the_reports_volume_of_the_gold_schema():
    rendered = render("dev", UNSET)
    report = next(task for task in _tasks(rendered) if task["task_key"] == "report")
    out = _parser().parse_args(report["python_wheel_task"]["parameters"]).out
    volume = rendered["resources"]["volumes"]["reports"]
    assert volume["schema_name"] == _schemas("dev")["gold"]
    assert Path(out).parent == Path("/Volumes") / volume["catalog_name"] / volume["schema_name"] / volume["name"]


def test_the_notebook_task_runs_after_transform_with_the_jobs_catalog_and_schemas():
    rendered = render("dev", UNSET)
    task = next(task for task in _tasks(rendered) if "notebook_task" in task)
    assert task["depends_on"] == [{"task_key": "transform"}]
    parameters = task["notebook_task"]["base_parameters"]
    assert set(parameters) == {"config", *PARAMETERS}  # the widgets pipelines.notebook reads
    assert parameters["catalog"] == "main"
    assert {layer: parameters[f"{layer}_schema"] for layer in ("bronze", "silver", "gold")} == _schemas("dev")


def test_targets_dev_per_user_and_prod_as_a_service_principal_with_failure_emails():
    bundle = yaml.safe_load((REPO / "databricks.yml").read_text(encoding="utf-8"))
    assert bundle["targets"]["dev"]["mode"] == "development" and bundle["targets"]["dev"]["default"] is True
    assert bundle["targets"]["prod"]["mode"] == "production"
    prod = render("prod", PROD)
    assert prod["run_as"] == {"service_principal_name": PROD["run_as_service_principal"]}
    job = prod["resources"]["jobs"]["billing_lakehouse"]
    assert job["email_notifications"] == {"on_failure": ["finops@example.com"]}
    assert "email_notifications" not in render("dev", UNSET)["resources"]["jobs"]["billing_lakehouse"]
    assert render("dev", UNSET)["resources"]["jobs"]["billing_lakehouse"]["name"] == f"[dev {USER}] billing-lakehouse"


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower() for requirement in requirements}


def test_the_wheel_leaves_spark_and_delta_to_the_runtime():
    """On a cluster the wheel installs only what the runtime lacks; local runs get the rest from the `local` extra."""
    default = _names(PYPROJECT["project"]["dependencies"])
    assert not default & {"pyspark", "delta-spark", "deltalake"}  # the runtime's Spark and Delta Lake are used
    # pyarrow stays: the delta-spark path imports it (status, summary, report), and the runtime's satisfies the bound.
    assert "pyarrow" in default
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {"pyspark", "deltalake"} <= _names(extras["local"])
    install = re.search(r"pip install .*-e '\.\[([\w,-]+)\]'", (REPO / "Makefile").read_text(encoding="utf-8"))
    assert install is not None and {"local", "dev"} <= set(install.group(1).split(","))  # make install: both


# Run in a fresh interpreter in which `deltalake` cannot be imported, as on a cluster where the wheel did not bring it.
WITHOUT_DELTALAKE = """
import importlib.abc, sys

class NoDeltalake(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "deltalake":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoDeltalake())
try:
    import deltalake
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("deltalake was importable")

import pipelines.app, pipelines.cli, pipelines.notebook, pipelines.storage.delta_spark
from pipelines.cli import _parser
from pipelines.config import load_config
from pipelines.storage import open_reader, reads_without_spark

args = _parser().parse_args(sys.argv[1:])
config = load_config(args.config, args.overrides)
assert config.storage == "delta-spark" and not reads_without_spark(config)
assert "deltalake" not in sys.modules and "pipelines.storage.delta_rs" not in sys.modules
print("no deltalake")
"""


@pytest.mark.parametrize("task_key", ["ingest", "transform", "report"])
def test_the_delta_spark_path_never_imports_deltalake(task_key):
    """The CLI, the job's modules and its config load without `deltalake`, which the wheel no longer installs."""
    task = next(task for task in _tasks(render("prod", PROD)) if task["task_key"] == task_key)
    parameters = task["python_wheel_task"]["parameters"]
    config = parameters.index("--config") + 1
    parameters = [*parameters[:config], str(REPO / "conf" / "pipeline.databricks.yml"), *parameters[config + 1 :]]
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_DELTALAKE, *parameters], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "no deltalake"


def test_the_databricks_config_holds_the_bundles_default_catalog_and_schemas():
    """A notebook's blank widgets keep the config file's values: they must be the bundle's defaults."""
    variables = yaml.safe_load((REPO / "databricks.yml").read_text(encoding="utf-8"))["variables"]
    config = load_config(REPO / "conf" / "pipeline.databricks.yml")
    assert config.catalog == variables["catalog"]["default"]
    assert config.schemas == {layer: variables[f"{layer}_schema"]["default"] for layer in ("bronze", "silver", "gold")}
