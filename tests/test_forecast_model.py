"""The month-end forecast model on synthetic histories: pure Python, no Spark."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from pipelines.forecast.model import (
    MODEL_ACTUALS,
    MODEL_MEAN,
    MODEL_NONE,
    MODEL_SEASONAL,
    forecast_month,
    weekday_factors,
)

WEEKLY = (1.2, 1.2, 1.2, 1.2, 1.2, 0.5, 0.5)  # Monday..Sunday, mean 1


def _history(start: date, days: int, level: float, growth: float, noise: float, seed: int) -> dict[date, Decimal]:
    rng = random.Random(seed)
    series = {}
    for t in range(days):
        day = start + timedelta(t)
        value = (level + growth * t) * WEEKLY[day.weekday()] * (1 + rng.gauss(0, noise))
        series[day] = Decimal(str(round(value, 2)))
    return series


def test_recovers_a_known_trend_and_weekly_pattern() -> None:
    """Without noise the model reproduces the generating process: each remaining day within a cent or so."""
    start, as_of = date(2024, 3, 4), date(2024, 5, 12)
    history = _history(start, 100, level=1000, growth=5, noise=0.0, seed=1)
    result = forecast_month({d: v for d, v in history.items() if d <= as_of}, as_of)
    assert result.model == MODEL_SEASONAL
    assert result.history_days == 56
    for day in result.days:
        truth = float(history[day.usage_date])
        assert abs(float(day.expected) - truth) < 0.02 * truth, day
        assert day.lower <= day.expected <= day.upper
    truth_total = sum((v for d, v in history.items() if d.month == 5), Decimal(0))
    assert abs(result.month_end - truth_total) / truth_total < Decimal("0.001")
    factors = weekday_factors([float(history[as_of - timedelta(55 - t)]) for t in range(56)], as_of)
    assert abs(factors[5] / factors[0] - 0.5 / 1.2) < 0.05  # weekends are below weekdays, as generated


def test_interval_covers_about_80_percent() -> None:
    """On noisy histories the month-end interval holds the actual total about 80% of the time."""
    covered, cases = 0, 0
    for seed in range(60):
        history = _history(date(2024, 1, 1), 152, level=500, growth=2, noise=0.15, seed=seed)
        actual = sum((v for d, v in history.items() if d.month == 5), Decimal(0))
        for day in (7, 14, 21):
            result = forecast_month(history, date(2024, 5, day))
            cases += 1
            covered += result.month_end_lower <= actual <= result.month_end_upper
    assert 0.65 <= covered / cases <= 0.95, covered / cases


def test_spend_to_date_is_the_exact_sum_of_the_months_actuals() -> None:
    """Decimal actuals are summed exactly (no float), later days are ignored, missing days count 0."""
    history = {date(2024, 4, 30): Decimal("99"), date(2024, 5, 1): Decimal("0.1"), date(2024, 5, 3): Decimal("0.2")}
    history[date(2024, 5, 20)] = Decimal("1000")  # after as_of: not seen
    result = forecast_month(history, date(2024, 5, 10))
    assert result.spend_to_date == Decimal("0.3")
    assert dict(result.actuals)[date(2024, 5, 2)] == Decimal(0)
    assert result.days[0].usage_date == date(2024, 5, 11)
    assert len(result.days) == 21
    assert result.cumulative_on(date(2024, 5, 3)) == Decimal("0.3")


def test_a_complete_month_returns_actuals_with_a_zero_width_interval() -> None:
    history = _history(date(2024, 3, 1), 92, level=300, growth=0, noise=0.1, seed=3)
    result = forecast_month(history, date(2024, 5, 31))
    may = sum((v for d, v in history.items() if d.month == 5), Decimal(0))
    assert result.model == MODEL_ACTUALS
    assert result.days == ()
    assert result.spend_to_date == result.month_end == result.month_end_lower == result.month_end_upper == may


def test_a_short_history_falls_back_to_its_mean_with_a_wide_interval() -> None:
    history = {date(2024, 5, 1) + timedelta(n): Decimal("100") for n in range(5)}
    result = forecast_month(history, date(2024, 5, 5))
    assert result.model == MODEL_MEAN
    assert result.history_days == 5
    assert all(day.expected == Decimal("100.00") for day in result.days)
    assert result.month_end == Decimal("3100.00")
    assert result.month_end_upper - result.month_end_lower > Decimal("0.2") * result.month_end  # wide
    empty = forecast_month({}, date(2024, 5, 5))
    assert empty.model == MODEL_NONE
    assert empty.month_end == Decimal(0)
