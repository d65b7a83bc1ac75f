"""The `anomalies:` settings: when a day's netted cost for a scope counts as an anomaly, and what it is compared with.

A day is flagged when its cost departs from the expected value (the median of the same weekday over the
`history_days / 7` previous weeks) by more than `threshold_percent` of that value and by at least
`min_change` in money: a 300% jump from 2 to 8 is noise, not something to alert on.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pipelines.config.reader import YamlReader

KEYS = {"threshold_percent", "min_change", "history_days", "tag_keys", "top_contributors"}
DEFAULT_THRESHOLD_PERCENT = Decimal("50")
DEFAULT_MIN_CHANGE = Decimal("50")
DEFAULT_HISTORY_DAYS = 28
DEFAULT_TOP_CONTRIBUTORS = 5


@dataclass(frozen=True)
class AnomalySettings:
    """What gold.cost_anomalies flags: a departure above both thresholds, against `history_days` of prior days."""

    threshold_percent: Decimal = DEFAULT_THRESHOLD_PERCENT  # of the expected value, either direction
    min_change: Decimal = DEFAULT_MIN_CHANGE  # in the config currency: smaller departures are ignored
    history_days: int = DEFAULT_HISTORY_DAYS  # a multiple of 7: whole weeks of the same weekday
    tag_keys: tuple[str, ...] | None = None  # custom tag keys that get `key=value` scopes; None: every key
    top_contributors: int = DEFAULT_TOP_CONTRIBUTORS

    @property
    def weeks(self) -> int:
        return self.history_days // 7


def _decimal(reader: YamlReader, settings: dict[str, object], name: str, default: Decimal, low: Decimal) -> Decimal:
    key, value = f"anomalies.{name}", settings.get(name)
    expected = f'a quoted decimal of at least {low}, such as "{default}"'
    if value is None:
        return default
    number = reader.quoted_decimal(value, key, expected)
    if number < low:
        raise reader.fail(key, expected, value)
    return number


def _tag_keys(reader: YamlReader, settings: dict[str, object]) -> tuple[str, ...] | None:
    value = settings.get("tag_keys")
    if value is None:
        return None
    expected = "a list of custom tag keys, such as [team, project] ([] for no tag scopes)"
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise reader.fail("anomalies.tag_keys", expected, value)
    return tuple(sorted({item.strip() for item in value}))


def load_anomalies(reader: YamlReader, raw: object) -> AnomalySettings:
    """`anomalies:` from pipeline.yml; every key optional."""
    settings = reader.mapping(raw or {}, "anomalies")
    reader.unknown_keys(settings, KEYS, "anomalies")
    history = reader.integer(settings, "history_days", "anomalies.history_days", DEFAULT_HISTORY_DAYS, 7, 364)
    if history % 7:
        raise reader.fail("anomalies.history_days", "a whole number of weeks in days (7, 14, 21, 28, ...)", history)
    return AnomalySettings(
        threshold_percent=_decimal(reader, settings, "threshold_percent", DEFAULT_THRESHOLD_PERCENT, Decimal("1")),
        min_change=_decimal(reader, settings, "min_change", DEFAULT_MIN_CHANGE, Decimal("0")),
        history_days=history,
        tag_keys=_tag_keys(reader, settings),
        top_contributors=reader.integer(
            settings, "top_contributors", "anomalies.top_contributors", DEFAULT_TOP_CONTRIBUTORS, 1, 50
        ),
    )
