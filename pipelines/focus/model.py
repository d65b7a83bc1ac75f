"""The FOCUS requirements model (`model-1.2.0.1.json` of the FinOps Foundation's focus-validator), loaded and checked.

A rule says what a column or the dataset must satisfy (`requirement`, a tree of check functions), on which rows
(`condition`), for which providers (`criteria`), and how strongly (`keyword`). Composite rules reference other rules.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.errors import BillingLakehouseError

DEFAULT_MODEL = Path(".cache/focus/model-1.2.0.1.json")  # the Makefile's FOCUS_MODEL
REQUIRED = frozenset({"MUST", "MUST NOT"})  # a failure breaks conformance
ADVISORY = frozenset({"SHOULD", "SHOULD NOT", "RECOMMENDED"})  # a failure is a warning
OPTIONAL = frozenset({"MAY", "OPTIONAL"})  # not enforced (the reference skips these rules)


class ModelError(BillingLakehouseError):
    """The FOCUS model file is missing or does not have the shape this evaluator reads."""


@dataclass(frozen=True)
class Rule:
    """One ModelRules entry; `requirement` and `condition` are the JSON check-function trees ({} when absent)."""

    rule_id: str
    function: str  # Composite, Presence, Type, Format, Nullability, Validation
    reference: str  # the column (or dataset/attribute) the rule is about
    entity_type: str  # Column, Dataset, Attribute
    criteria: tuple[str, ...]
    dynamic: bool
    keyword: str
    must_satisfy: str
    requirement: Mapping[str, Any]
    condition: Mapping[str, Any]
    dependencies: tuple[str, ...]

    @property
    def composite(self) -> bool:
        """A rule that takes its outcome from the rules it references."""
        return self.function == "Composite"

    @property
    def children(self) -> tuple[str, ...]:
        """The rule ids a composite references (CheckModelRule items, in order)."""
        return tuple(_references(self.requirement))


@dataclass(frozen=True)
class Model:
    """The rules by id, the applicability criteria with their descriptions, and the ISO 4217 currency codes."""

    version: str
    focus_version: str
    criteria: Mapping[str, str]
    rules: Mapping[str, Rule]
    currency_codes: frozenset[str]


def _references(node: Any) -> list[str]:
    """Rule ids of every CheckModelRule under `node`."""
    if isinstance(node, list):
        return [rid for item in node for rid in _references(item)]
    if not isinstance(node, dict):
        return []
    own = [node["ModelRuleId"]] if node.get("CheckFunction") == "CheckModelRule" else []
    return own + [rid for value in node.values() for rid in _references(value)]


def _rule(rule_id: str, raw: Mapping[str, Any]) -> Rule:
    criteria = raw["ValidationCriteria"]
    return Rule(
        rule_id=rule_id,
        function=raw["Function"],
        reference=raw.get("Reference", ""),
        entity_type=raw.get("EntityType", ""),
        criteria=tuple(raw.get("ApplicabilityCriteria") or ()),
        dynamic=raw.get("Type") == "Dynamic",
        keyword=criteria["Keyword"],
        must_satisfy=criteria.get("MustSatisfy", ""),
        requirement=criteria.get("Requirement") or {},
        condition=criteria.get("Condition") or {},
        dependencies=tuple(criteria.get("Dependencies") or ()),
    )


def load_currency_codes(path: Path) -> frozenset[str]:
    """The `currency_codes` column of the validator's currency_codes.csv."""
    with path.open(newline="", encoding="utf-8") as handle:
        return frozenset(row["currency_codes"].strip() for row in csv.DictReader(handle) if row["currency_codes"])


def load_model(path: Path | str = DEFAULT_MODEL) -> Model:
    """Read the model JSON and the currency_codes.csv next to it; every reference must name a rule of the model."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no FOCUS model there (run `make install`, which fetches it)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        details = raw["Details"]
        rules = {rule_id: _rule(rule_id, body) for rule_id, body in raw["ModelRules"].items()}
        criteria = {name: body.get("Description", "") for name, body in raw["ApplicabilityCriteria"].items()}
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        raise ModelError(f"{path}: not a FOCUS requirements model ({error!r})") from error
    for rule in rules.values():
        unknown = [rid for rid in (*rule.children, *rule.dependencies) if rid not in rules]
        if unknown:
            raise ModelError(f"{path}: {rule.rule_id} references unknown rules {unknown}")
    codes_file = path.parent / "currency_codes.csv"
    if not codes_file.is_file():
        raise ModelError(f"{codes_file}: missing (run `make install`, which fetches it with the model)")
    return Model(
        version=details["ModelVersion"],
        focus_version=details["FOCUSVersion"],
        criteria=criteria,
        rules=rules,
        currency_codes=load_currency_codes(codes_file),
    )
