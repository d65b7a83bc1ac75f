"""Reading YAML configuration files: every failure is a ConfigError naming the file, the key and what was expected."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from pipelines.errors import ConfigError

CONFIG_VERSION = 1
FIRST_USAGE_MONTH = "2019-03"  # billable usage logs start here
MAX_PRICE = 10**10  # the largest price cost arithmetic keeps exact (pipelines.columns.MAX_PRICE)
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class YamlReader:
    """Reads keys out of one parsed YAML file, raising ConfigError with the file and key path."""

    def __init__(self, file: Path, overrides: Sequence[str] = ()) -> None:
        self.file = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(self.file, "(file)", "a readable YAML file", error.strerror) from None
        try:
            self.data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ConfigError(self.file, "(file)", "valid YAML", str(error).splitlines()[0]) from None
        self.mapping(self.data, "(top level)")
        for override in overrides:
            self._override(override)
        version = self.data.get("version")
        if version != CONFIG_VERSION:
            raise ConfigError(self.file, "version", f"{CONFIG_VERSION}", version)

    def _override(self, override: str) -> None:
        """Apply one `dotted.key=value` (the value read as YAML), as a scheduler passes settings per target."""
        key, equals, text = override.partition("=")
        if not equals or not re.fullmatch(r"[\w.-]+", key) or ".." in key:
            raise ConfigError(self.file, f"--set {override}", "KEY=VALUE with a dotted key such as catalog=main")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        *parents, name = key.split(".")
        node = self.data
        for part in parents:
            child = node.get(part)
            if child is None:  # absent, or written empty (`sources:`): the override starts the mapping
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(self.file, f"--set {key}", f"{part} to be a mapping in the file", child)
            node = child
        node[name] = value

    def fail(self, key: str, expected: str, got: object = None) -> ConfigError:
        return ConfigError(self.file, key, expected, got)

    def mapping(self, value: object, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, "a mapping", value)
        return value

    def string(self, parent: dict[str, Any], name: str, key: str, default: str | None = None) -> str:
        value = parent.get(name, default)
        if value is None:
            raise self.fail(key, "a value (it is required)")
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "a non-empty string", value)
        return value.strip()

    def choice(self, parent: dict[str, Any], name: str, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.string(parent, name, key, default)
        if value not in choices:
            raise self.fail(key, "one of " + ", ".join(choices), value)
        return value

    def integer(self, parent: dict[str, Any], name: str, key: str, default: int, low: int, high: int) -> int:
        value = parent.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise self.fail(key, f"a whole number from {low} to {high}", value)
        return value

    def boolean(self, parent: dict[str, Any], name: str, key: str, default: bool) -> bool:
        value = parent.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(key, "true or false", value)
        return value

    def month(self, parent: dict[str, Any], name: str, key: str, default: str | None = None) -> str | None:
        value = parent.get(name, default)
        if value is None:
            return None
        if not isinstance(value, str) or not MONTH.match(value) or value < FIRST_USAGE_MONTH:
            raise self.fail(key, f"a quoted month YYYY-MM, {FIRST_USAGE_MONTH} or later", value)
        return value

    def instant(self, parent: dict[str, Any], name: str, key: str) -> datetime | None:
        """A UTC instant given as a YAML timestamp, a date, or ISO text; None when absent."""
        value = parent.get(name)
        if value is None:
            return None
        if isinstance(value, date) and not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise self.fail(key, "an ISO timestamp such as 2024-01-01T00:00:00Z", value) from None
        if not isinstance(value, datetime):
            raise self.fail(key, "an ISO timestamp such as 2024-01-01T00:00:00Z", value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def price(self, parent: dict[str, Any], name: str, key: str) -> Decimal | None:
        """An exact price: quoted text or a whole number (YAML reads unquoted decimals as binary floats)."""
        value = parent.get(name)
        if value is None:
            return None
        if isinstance(value, float):
            raise self.fail(key, 'a quoted decimal such as "0.39" (unquoted YAML decimals are inexact floats)', value)
        try:
            price = Decimal(str(value)) if isinstance(value, str | int) and not isinstance(value, bool) else None
        except InvalidOperation:
            price = None
        if price is None or not price.is_finite() or price < 0 or price >= MAX_PRICE:
            raise self.fail(key, f'a non-negative decimal below {MAX_PRICE:.0e} such as "0.39"', value)
        return price

    def quoted_decimal(self, value: object, key: str, expected: str) -> Decimal:
        """A finite decimal given as quoted text (an unquoted YAML 12.5 is already an inexact binary float)."""
        if not isinstance(value, str):
            raise self.fail(key, expected + " (quote it: unquoted YAML numbers are not exact)", value)
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise self.fail(key, expected, value) from None
        if not number.is_finite():
            raise self.fail(key, expected, value)
        return number

    def url(self, parent: dict[str, Any], name: str, key: str, example: str, default: str | None = None) -> str | None:
        """An http(s) URL without a trailing slash; None when absent. Credentials in it are refused, never repeated."""
        value = parent.get(name, default)
        if value is None:
            return None
        text = str(value).strip()
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s]*@", text):
            raise self.fail(
                key,
                f"a URL without a user or password, such as {example} (credentials come from environment"
                " variables; the value given is not shown because it holds one)",
            )
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", text):
            raise self.fail(key, f"a URL such as {example}", text)
        return text.rstrip("/")

    def workspace_ids(self, parent: dict[str, Any], name: str, key: str) -> tuple[str, ...] | None:
        """A non-empty list of quoted numeric workspace ids, sorted and without repeats; None when not given."""
        value = parent.get(name)
        if value is None:
            return None
        expected = 'a non-empty list of quoted numeric workspace ids, such as ["1111111111111111"]'
        if not isinstance(value, list) or not value:
            raise self.fail(key, expected, value)
        for item in value:
            if not isinstance(item, str) or not re.fullmatch(r"\d+", item.strip()):
                raise self.fail(key, expected, item)
        return tuple(sorted({item.strip() for item in value}))

    def unknown_keys(self, parent: dict[str, Any], allowed: set[str], key: str) -> None:
        extra = sorted(set(parent) - allowed)
        if extra:
            where = f"{key}.{extra[0]}" if key else extra[0]
            raise self.fail(where, "one of the known keys " + ", ".join(sorted(allowed)), "unknown key")


def resolve_path(base: Path, value: str) -> str:
    """Absolute local path for a relative one; URIs (s3://, dbfs:/, file:/) are kept as they are."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", value) or value.startswith("/"):
        return value
    return str((base / value).resolve())
