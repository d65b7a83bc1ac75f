from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import load_config
from pipelines.errors import ConfigError
from tests.conftest import REPO, write_config


def test_example_config_loads_with_paths_relative_to_the_file() -> None:
    config = load_config(REPO / "conf" / "pipeline.yml")
    assert config.warehouse == str(REPO / "warehouse")
    assert config.legacy_csv is not None and config.legacy_csv.path == str(REPO / "data" / "billable-usage" / "csv")
    assert config.workspaces["3333333333333333"].tier == "STANDARD"
    assert config.skus.regions["eu-west-1"] == "EUROPE_IRELAND"


@pytest.mark.parametrize(
    ("extra", "key", "expected"),
    [
        ("storage: parquet\n", "storage", "one of auto, delta-rs, delta-spark"),
        ("currency: dollars\n", "currency", "upper-case currency code"),
        ("bogus: 1\n", "bogus", "one of the known keys"),
    ],
)
def test_config_errors_name_file_key_and_expected_value(tmp_path: Path, extra: str, key: str, expected: str) -> None:
    path = write_config(tmp_path, tmp_path / "csv", None)
    lines = [line for line in path.read_text().splitlines() if not line.startswith(key + ":")]
    path.write_text("\n".join(lines) + "\n" + extra)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert message.startswith(f"{path}: {key}: expected")
    assert expected in message


def test_workspace_with_unknown_tier_or_region_is_rejected(tmp_path: Path) -> None:
    bad_tier = '  "1": {cloud: AWS, tier: GOLD, region: us-east-1}\n'
    with pytest.raises(ConfigError, match=r"workspaces\.1\.tier: expected one of STANDARD, PREMIUM, ENTERPRISE"):
        load_config(write_config(tmp_path, tmp_path / "csv", None, workspaces=bad_tier))
    bad_region = '  "1": {cloud: AWS, tier: PREMIUM, region: mars-1}\n'
    with pytest.raises(ConfigError, match=r"workspaces\.1\.region: expected a region listed in"):
        load_config(write_config(tmp_path, tmp_path / "csv", None, workspaces=bad_region))


def test_missing_version_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yml"
    path.write_text("warehouse: x\n")
    with pytest.raises(ConfigError, match="version: expected 1"):
        load_config(path)
