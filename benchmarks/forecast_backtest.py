"""Forecast backtest: month-end error (MAPE) and 80%-interval coverage on generated daily cost histories.

Each history has a known level, trend, weekly pattern and noise (one profile each: flat, growing,
shrinking, high noise, weekdays only, and occasional spikes). For every profile, seed and target month,
the model (pipelines.forecast.model) forecasts the month's total from its history up to day 7, 14, 21
and 28 of the month; the error is measured against the generated month's actual total. Pure Python:
no Spark, a few seconds.

Usage: python -m benchmarks.forecast_backtest [--seeds 20]   (prints one JSON object)
"""

from __future__ import annotations

import argparse
import calendar
import json
import random
import statistics
import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pipelines.forecast.model import forecast_month

HISTORY_DAYS = 84  # twelve weeks before the target month
FORECAST_DAYS = (7, 14, 21, 28)
TARGET_MONTHS = (date(2024, 2, 1), date(2024, 5, 1), date(2024, 9, 1), date(2024, 12, 1))
WEEKDAY_PATTERN = (1.15, 1.2, 1.2, 1.15, 1.1, 0.6, 0.6)  # Monday..Sunday
WORKDAYS_ONLY = (1.4, 1.4, 1.4, 1.4, 1.4, 0.0, 0.0)


@dataclass(frozen=True)
class Profile:
    """A daily cost generator: level x (1 + growth x t) x weekday factor x (1 + noise), plus occasional spikes."""

    name: str
    daily_growth: float = 0.0
    noise: float = 0.08
    weekdays: tuple[float, ...] = WEEKDAY_PATTERN
    spike_chance: float = 0.0

    def history(self, rng: random.Random, start: date, days: int) -> dict[date, Decimal]:
        level = rng.uniform(200, 5000)
        series = {}
        for t in range(days):
            day = start + timedelta(t)
            trend = level * max(1 + self.daily_growth * t, 0.05)
            value = trend * self.weekdays[day.weekday()] * (1 + rng.gauss(0, self.noise))
            if self.spike_chance and rng.random() < self.spike_chance:
                value *= rng.uniform(2, 4)
            series[day] = Decimal(str(round(max(value, 0.0), 2)))
        return series


PROFILES = (
    Profile("flat"),
    Profile("growing", daily_growth=0.01),
    Profile("shrinking", daily_growth=-0.006),
    Profile("high_noise", noise=0.3),
    Profile("workdays_only", weekdays=WORKDAYS_ONLY),
    Profile("spikes", spike_chance=0.04),
)


def backtest(seeds: int) -> dict[str, Any]:
    """Forecast every (profile, seed, month, day) case; MAPE and coverage per profile, per day and overall."""
    cases: list[dict[str, Any]] = []
    for profile in PROFILES:
        for seed in range(seeds):
            for month in TARGET_MONTHS:
                rng = random.Random(f"{profile.name}-{seed}-{month}")
                length = calendar.monthrange(month.year, month.month)[1]
                history = profile.history(rng, month - timedelta(HISTORY_DAYS), HISTORY_DAYS + length)
                actual = sum((v for d, v in history.items() if d >= month), Decimal(0))
                for day in FORECAST_DAYS:
                    result = forecast_month(history, month.replace(day=day))
                    cases.append(
                        {
                            "profile": profile.name,
                            "day": day,
                            "error": abs(float(result.month_end - actual)) / float(actual),
                            "covered": result.month_end_lower <= actual <= result.month_end_upper,
                            "width": float(result.month_end_upper - result.month_end_lower) / float(actual),
                        }
                    )

    def summary(selected: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "forecasts": len(selected),
            "mape_percent": round(100 * statistics.fmean(c["error"] for c in selected), 2),
            "coverage_80_percent": round(100 * statistics.fmean(c["covered"] for c in selected), 1),
            "mean_interval_width_percent": round(100 * statistics.fmean(c["width"] for c in selected), 2),
        }

    return {
        "overall": summary(cases),
        "by_profile": {p.name: summary([c for c in cases if c["profile"] == p.name]) for p in PROFILES},
        "by_forecast_day": {str(d): summary([c for c in cases if c["day"] == d]) for d in FORECAST_DAYS},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="histories per profile and target month")
    args = parser.parse_args()
    started = time.perf_counter()
    report = {"benchmark": "forecast_backtest", "seeds": args.seeds, **backtest(args.seeds)}
    report["seconds"] = round(time.perf_counter() - started, 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
