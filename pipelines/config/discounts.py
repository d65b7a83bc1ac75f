"""Configured discount rules: a percentage off list price for the usage a rule matches, in a time window.

A rule matches usage by SKU name (a glob), billing origin product, cloud and workspace; a dimension the
rule leaves out matches anything. Its window [start, end) holds a usage record when the record's
`usage_start_time` is in it: a contract starts on a date, and a usage hour belongs to the period it began in.
Two rules that could both match one usage record are refused when the config is loaded, so a record is
never discounted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pipelines.config.apis import CLOUDS
from pipelines.config.reader import YamlReader

MAX_PERCENT_DECIMALS = 6  # gold multiplies by (100 - percent_off) / 100 exactly at this scale
RULE_KEYS = {"name", "percent_off", "sku", "billing_origin_product", "cloud", "workspaces", "start", "end"}


@dataclass(frozen=True)
class DiscountRule:
    """`percent_off` off list for usage matching every dimension given (None: any value) in [start, end)."""

    name: str
    percent_off: Decimal
    start: datetime
    end: datetime | None = None  # None: open
    sku: str | None = None  # glob on the current SKU name: `*` any run, `?` one character
    billing_origin_product: str | None = None
    cloud: str | None = None
    workspaces: tuple[str, ...] | None = None

    def overlaps(self, other: DiscountRule) -> bool:
        """True when some usage record could match both rules (same time, and every dimension could agree)."""
        if not _windows_meet(self.start, self.end, other.start, other.end):
            return False
        if self.sku is not None and other.sku is not None and not globs_intersect(self.sku, other.sku):
            return False
        for mine, theirs in ((self.billing_origin_product, other.billing_origin_product), (self.cloud, other.cloud)):
            if mine is not None and theirs is not None and mine != theirs:
                return False
        return self.workspaces is None or other.workspaces is None or bool(set(self.workspaces) & set(other.workspaces))


def _windows_meet(start: datetime, end: datetime | None, other_start: datetime, other_end: datetime | None) -> bool:
    return (other_end is None or start < other_end) and (end is None or other_start < end)


def globs_intersect(first: str, second: str) -> bool:
    """True when some string matches both globs (`*` any run, `?` one character, anything else itself).

    Walks the product of the two patterns' automata: a state (i, j) says both patterns have consumed the
    same text up to positions i and j. The alphabet is unbounded, so `?` or `*` can always agree with any
    character the other side needs, and with each other.
    """
    seen: set[tuple[int, int]] = set()
    todo = [(0, 0)]
    while todo:
        i, j = todo.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(first) and j == len(second):
            return True
        a = first[i] if i < len(first) else None
        b = second[j] if j < len(second) else None
        if a == "*":
            todo.append((i + 1, j))  # the star matches nothing
        if b == "*":
            todo.append((i, j + 1))
        if a is None or b is None:
            continue
        # Both consume one character: a star stays where it is, anything else moves on.
        if (a in "*?" or b in "*?" or a == b) and not (a == "*" and b == "*"):
            todo.append((i if a == "*" else i + 1, j if b == "*" else j + 1))
    return False


def _percent(reader: YamlReader, rule: dict[str, object], key: str) -> Decimal:
    value = rule.get("percent_off")
    expected = 'a quoted decimal percentage above 0 and at most 100, such as "12.5"'
    percent = reader.quoted_decimal(value, key, expected)
    if not 0 < percent <= 100:
        raise reader.fail(key, expected, value)
    if percent != round(percent, MAX_PERCENT_DECIMALS):  # keeps list * (100 - percent) / 100 exact in gold
        raise reader.fail(key, f"a percentage with at most {MAX_PERCENT_DECIMALS} decimals", value)
    return percent


def _optional(reader: YamlReader, rule: dict[str, object], name: str, key: str) -> str | None:
    return reader.string(rule, name, f"{key}.{name}") if name in rule else None


def _rule(reader: YamlReader, raw: object, key: str) -> DiscountRule:
    rule = reader.mapping(raw, key)
    reader.unknown_keys(rule, RULE_KEYS, key)
    start, end = reader.instant(rule, "start", f"{key}.start"), reader.instant(rule, "end", f"{key}.end")
    if start is None:
        raise reader.fail(f"{key}.start", "the instant the discount starts, such as 2024-01-01T00:00:00Z")
    if end is not None and end <= start:
        raise reader.fail(f"{key}.end", f"an instant after start {start.isoformat()}", end.isoformat())
    return DiscountRule(
        name=reader.string(rule, "name", f"{key}.name"),
        percent_off=_percent(reader, rule, f"{key}.percent_off"),
        start=start,
        end=end,
        sku=_optional(reader, rule, "sku", key),
        billing_origin_product=_optional(reader, rule, "billing_origin_product", key),
        cloud=reader.choice(rule, "cloud", f"{key}.cloud", CLOUDS, "") if "cloud" in rule else None,
        workspaces=reader.workspace_ids(rule, "workspaces", f"{key}.workspaces"),
    )


def load_discounts(reader: YamlReader, raw: object) -> tuple[DiscountRule, ...]:
    """The `discounts:` list: each rule checked, names unique, and no two rules able to match one usage record."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise reader.fail("discounts", "a list of discount rules (name, percent_off, start, ...)", raw)
    rules: list[DiscountRule] = []
    for index, item in enumerate(raw):
        key = f"discounts[{index}]"
        rule = _rule(reader, item, key)
        for earlier in rules:
            if earlier.name == rule.name:
                raise reader.fail(f"{key}.name", "a name no earlier rule has (rule names are unique)", rule.name)
            if earlier.overlaps(rule):
                raise reader.fail(
                    key,
                    f"a rule that cannot match the same usage as another: {rule.name!r} overlaps {earlier.name!r}"
                    " (their windows meet and every match dimension could agree)",
                    rule.name,
                )
        rules.append(rule)
    return tuple(rules)
