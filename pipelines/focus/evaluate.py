"""Evaluate every rule of the FOCUS model on a Cost and Usage DataFrame: passed, failed, or not applicable (why).

Order of decisions, after the reference validator's (focus_validator 2.2.1):
1. Not applicable: a criterion the provider does not support (all of a rule's criteria must be supported; the
   reference accepts any one), a Dynamic rule (it needs information outside the dataset; the reference skips them),
   a MAY rule (the reference does not enforce them), every rule of (or reading) a column whose presence rule is not
   applicable or is optional (not MUST) while the column is absent, and a rule depending on a not-applicable rule.
2. Leaf rules run as Spark aggregates (all row-level rules in one pass) on the rows their effective condition
   selects: their own Condition, those of the rules they depend on and of the composites that reference them.
3. A composite takes AND/OR of the rules it references, ignoring the not-applicable ones (all of them not
   applicable: the composite is not applicable). Unlike the reference, a referenced rule failing a SHOULD,
   SHOULD NOT or RECOMMENDED counts as a warning, not as a failure of the MUST composite above it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import reduce
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.focus.checks import (
    Check,
    DistinctCount,
    Schema,
    Verdict,
    compile_condition,
    compile_requirement,
    referenced_columns,
)
from pipelines.focus.model import OPTIONAL, REQUIRED, Model, ModelError, Rule
from pipelines.focus.report import FAILED, NOT_APPLICABLE, PASSED, Outcome, Report

SAMPLES = 3  # offending values shown per failed row-level rule
DYNAMIC = "Dynamic rule: needs information outside the dataset (the reference validator skips Dynamic rules)"
MAY = "MAY: optional, not enforced (as in the reference validator)"
NO_CHILDREN = "composite: every rule it references is not applicable"


def _show(value: Any) -> str:
    """A sample value as text: NULL, quoted text, or the value itself (decimals without trailing zeros)."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def unsupported_reason(rule: Rule, supported: frozenset[str]) -> str | None:
    """Why the provider's criteria rule this rule out, or None."""
    missing = [name for name in rule.criteria if name not in supported]
    return f"criterion not supported: {' + '.join(missing)}" if missing else None


@dataclass
class _Evaluation:
    """The state of one evaluate() call: skip reasons and outcomes by rule id."""

    data: DataFrame
    model: Model
    supported: frozenset[str]
    schema: Schema
    family_skips: dict[str, str] = field(default_factory=dict)  # column -> reason
    skips: dict[str, str | None] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    referenced_by: dict[str, list[Rule]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for rule in self.model.rules.values():
            for child in {*rule.children, *rule.dependencies}:
                self.referenced_by.setdefault(child, []).append(rule)
        presence: dict[str, list[Rule]] = {}
        for rule in self.model.rules.values():
            if rule.function == "Presence" and rule.requirement.get("CheckFunction") == "ColumnPresent":
                presence.setdefault(rule.requirement["ColumnName"], []).append(rule)
        for column, rules in presence.items():  # a column is off unless a MUST presence rule applies to it
            applicable = [rule for rule in rules if unsupported_reason(rule, self.supported) is None]
            if any(rule.keyword in REQUIRED for rule in applicable):
                continue
            if not applicable:
                self.family_skips[column] = unsupported_reason(rules[0], self.supported) or ""
            elif column not in self.schema:
                self.family_skips[column] = f"optional column not present ({applicable[0].keyword} in the model)"

    def skip_reason(self, rule_id: str, visiting: frozenset[str] = frozenset()) -> str | None:
        """Why `rule_id` is not applicable, or None (memoised; the model's references form a DAG)."""
        if rule_id in self.skips:
            return self.skips[rule_id]
        if rule_id in visiting:
            raise ModelError(f"rule {rule_id} references itself")
        rule = self.model.rules[rule_id]
        reason = unsupported_reason(rule, self.supported)
        if reason is None and rule.function != "Presence":  # the column's rules, and rules reading the column
            columns = [rule_id.split("-")[0], *referenced_columns(rule.requirement)]
            reason = next((self.family_skips[c] for c in columns if c in self.family_skips), None)
        if reason is None and rule.dynamic:
            reason = DYNAMIC
        if reason is None and rule.keyword in OPTIONAL:
            reason = MAY
        inner = visiting | {rule_id}
        if reason is None and not rule.composite:
            reason = next((r for dep in rule.dependencies if (r := self.skip_reason(dep, inner))), None)
        if reason is None and rule.composite:
            child_reasons = [self.skip_reason(child, inner) for child in rule.children]
            if all(child_reasons):
                reason = NO_CHILDREN
        self.skips[rule_id] = reason
        return reason

    def condition(self, rule: Rule) -> Column | None:
        """The rule's Condition AND those of its dependencies AND those of the composites referencing it."""
        sources = [rule, *(self.model.rules[dep] for dep in rule.dependencies)]
        sources += [parent for parent in self.referenced_by.get(rule.rule_id, []) if parent.composite]
        parts = [part for source in sources if (part := compile_condition(source.condition, self.schema)) is not None]
        return reduce(lambda a, b: a & b, parts) if parts else None

    def outcome(
        self, rule: Rule, status: str, reason: str = "", violations: int | None = None, samples: Sequence[str] = ()
    ) -> None:
        """Record the rule's one outcome."""
        self.outcomes[rule.rule_id] = Outcome(
            rule.rule_id, status, rule.keyword, rule.must_satisfy, reason, violations, tuple(samples)
        )

    def run_leaves(self, leaves: list[Rule]) -> None:
        """Schema verdicts at once, all row-level checks in one aggregate, distinct counts one query each."""
        rows: list[tuple[Rule, Column]] = []
        for rule in leaves:
            check: Check = compile_requirement(rule.requirement, self.schema, self.model.currency_codes)
            where = self.condition(rule)
            if isinstance(check, Verdict):
                self.outcome(rule, PASSED if check.ok else FAILED, "" if check.ok else check.detail)
            elif isinstance(check, DistinctCount):
                self.run_distinct_count(rule, check, where)
            else:
                violation = ~F.coalesce(check, F.lit(True))
                rows.append((rule, violation if where is None else violation & F.coalesce(where, F.lit(False))))
        if not rows:
            return
        counts = self.data.agg(*(F.count_if(v).alias(f"r{i}") for i, (_, v) in enumerate(rows))).first()
        assert counts is not None
        for i, (rule, violation) in enumerate(rows):
            found = int(counts[f"r{i}"])
            if not found:
                self.outcome(rule, PASSED, violations=0)
                continue
            columns = [name for name in referenced_columns(rule.requirement) if name in self.schema]
            sample = self.data.filter(violation).select(*(F.col(f"`{c}`") for c in columns)).limit(SAMPLES)
            values = [", ".join(f"{c}={_show(row[c])}" for c in columns) for row in sample.collect()]
            self.outcome(rule, FAILED, f"{found} rows do not satisfy it", found, values)

    def run_distinct_count(self, rule: Rule, check: DistinctCount, where: Column | None) -> None:
        """Groups of `key` whose count of distinct `value`s is not the expected one (NULL keys form one group)."""
        if check.key not in self.schema or check.value not in self.schema:
            absent = check.key if check.key not in self.schema else check.value
            self.outcome(rule, FAILED, f"column {absent} is absent")
            return
        rows = self.data if where is None else self.data.filter(F.coalesce(where, F.lit(False)))
        counts = rows.groupBy(F.col(f"`{check.key}`").alias("key")).agg(
            F.countDistinct(F.col(f"`{check.value}`")).alias("distinct")
        )
        bad = counts.filter(F.col("distinct") != check.expected)
        found = bad.count()
        if not found:
            self.outcome(rule, PASSED, violations=0)
            return
        sample = bad.limit(SAMPLES).collect()
        values = [f"{check.key}={_show(row['key'])}: {row['distinct']} {check.value}" for row in sample]
        self.outcome(rule, FAILED, f"{found} {check.key} values without exactly {check.expected}", found, values)

    def aggregate(self, rule_id: str) -> bool | None:
        """A rule's verdict for its parents: True (passed, or failed only a SHOULD-level rule), False, None (n/a)."""
        rule = self.model.rules[rule_id]
        if rule_id not in self.outcomes:  # a composite not yet aggregated
            verdict = self.combine(rule.requirement)
            if verdict is None:
                self.outcome(rule, NOT_APPLICABLE, NO_CHILDREN)
            elif verdict:
                self.outcome(rule, PASSED)
            else:
                failing = [c for c in rule.children if self.aggregate(c) is False]
                self.outcome(rule, FAILED, "referenced rules failed: " + ", ".join(failing))
        outcome = self.outcomes[rule_id]
        if outcome.status == NOT_APPLICABLE:
            return None
        return outcome.status == PASSED or rule.keyword not in REQUIRED

    def combine(self, node: Mapping[str, Any]) -> bool | None:
        """AND/OR over CheckModelRule leaves, leaving not-applicable ones out (all out: None)."""
        function = node.get("CheckFunction")
        if function == "CheckModelRule":
            return self.aggregate(node["ModelRuleId"])
        if function not in ("AND", "OR"):
            raise ModelError(f"composite requirement with {function!r}: expected AND, OR or CheckModelRule")
        verdicts = [v for item in node["Items"] if (v := self.combine(item)) is not None]
        if not verdicts:
            return None
        return all(verdicts) if function == "AND" else any(verdicts)


def evaluate(data: DataFrame, model: Model, supported: frozenset[str]) -> Report:
    """Evaluate every rule of `model` on `data` (a FOCUS Cost and Usage dataset) for a provider supporting `supported`.

    `supported` names ApplicabilityCriteria of the model; an unknown name is an error (a typo would silently turn
    rules off).
    """
    unknown = sorted(supported - model.criteria.keys())
    if unknown:
        raise ModelError(f"unknown applicability criteria {unknown}; the model has {sorted(model.criteria)}")
    schema = {f.name: f.dataType for f in data.schema.fields}
    run = _Evaluation(data, model, supported, schema)
    leaves = []
    for rule_id, rule in model.rules.items():
        reason = run.skip_reason(rule_id)
        if reason is not None:
            run.outcome(rule, NOT_APPLICABLE, reason)
        elif not rule.composite:
            leaves.append(rule)
    run.run_leaves(leaves)
    for rule_id in model.rules:
        run.aggregate(rule_id)
    return Report(model.version, {rule_id: run.outcomes[rule_id] for rule_id in model.rules})
