"""The outcome of every rule of a FOCUS conformance run, and its printed summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from pipelines.focus.model import ADVISORY, REQUIRED

PASSED = "passed"
FAILED = "failed"
NOT_APPLICABLE = "not applicable"


@dataclass(frozen=True)
class Outcome:
    """One rule's outcome: `reason` says why it is not applicable or what failed; row-level failures count rows."""

    rule_id: str
    status: str  # PASSED, FAILED or NOT_APPLICABLE
    keyword: str  # MUST, MUST NOT, SHOULD, SHOULD NOT, RECOMMENDED, MAY
    must_satisfy: str
    reason: str = ""
    violations: int | None = None  # offending rows (groups for a distinct count); None for schema-level checks
    samples: tuple[str, ...] = ()  # a few offending values

    @property
    def breaks_conformance(self) -> bool:
        """A failed MUST or MUST NOT: the bar is zero of these."""
        return self.status == FAILED and self.keyword in REQUIRED


@dataclass(frozen=True)
class Report:
    """Every rule of the model exactly once, in model order."""

    model_version: str
    outcomes: Mapping[str, Outcome]

    def with_status(self, status: str) -> list[Outcome]:
        """The outcomes with `status` (PASSED, FAILED or NOT_APPLICABLE), in model order."""
        return [outcome for outcome in self.outcomes.values() if outcome.status == status]

    @property
    def passed(self) -> list[Outcome]:
        return self.with_status(PASSED)

    @property
    def not_applicable(self) -> list[Outcome]:
        return self.with_status(NOT_APPLICABLE)

    @property
    def evaluated(self) -> int:
        """How many rules passed or failed: evaluated + len(not_applicable) is every rule of the model."""
        return len(self.outcomes) - len(self.not_applicable)

    @property
    def failed(self) -> list[Outcome]:
        """Every failed rule, MUST-level (`must_failures`) and SHOULD-level (`warnings`)."""
        return self.with_status(FAILED)

    @property
    def must_failures(self) -> list[Outcome]:
        return [outcome for outcome in self.failed if outcome.breaks_conformance]

    @property
    def warnings(self) -> list[Outcome]:
        """Failed SHOULD, SHOULD NOT and RECOMMENDED rules: reported, not a conformance failure."""
        return [outcome for outcome in self.failed if outcome.keyword in ADVISORY]

    @property
    def conforms(self) -> bool:
        return not self.must_failures

    def summary(self) -> str:
        """Counts, every not-applicable reason with its rule count, every failed rule with its MustSatisfy text."""
        failed = self.failed
        lines = [
            f"FOCUS requirements model {self.model_version}: {len(self.outcomes)} rules, "
            f"{self.evaluated} evaluated ({len(self.passed)} passed, {len(failed)} failed: "
            f"{len(self.must_failures)} MUST, {len(self.warnings)} SHOULD/RECOMMENDED), "
            f"{len(self.not_applicable)} not applicable",
            "",
            "Not applicable:",
        ]
        reasons = Counter(outcome.reason for outcome in self.not_applicable)
        by_count = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
        lines += [f"  {count:>4}  {reason}" for reason, count in by_count]
        for title, group in (("Failed MUST rules", self.must_failures), ("Warnings", self.warnings)):
            if group:
                lines += ["", f"{title}:"]
                for outcome in group:
                    lines.append(f"  {outcome.rule_id} ({outcome.keyword}): {outcome.reason}")
                    lines.append(f"      {outcome.must_satisfy}")
                    lines += [f"      e.g. {sample}" for sample in outcome.samples]
        verdict = "conforms: no MUST rule failed" if self.conforms else "does not conform: MUST rules failed"
        lines += ["", f"Result: {verdict}"]
        return "\n".join(lines)
