"""A month-end forecast of daily cost: day-of-week factors times a robust linear trend, with an 80% interval.

The model reads the last `LOOKBACK_DAYS` days up to `as_of` (missing days inside the history are 0):

- day-of-week factors: per weekday, the median over the window of the day's cost divided by the 7-day mean
  centred on it (a linear trend does not bias it), normalised to average 1;
- trend: the Theil-Sen line (median of pairwise slopes: one outlier day does not tilt it) through the
  deseasonalised days;
- interval: residual spread (1.4826 x median absolute deviation, or the standard deviation when larger
  than twice that: a noisy series is not made to look calm), widened for the uncertainty of the trend line
  at each horizon. The month total's interval adds the days' noise (independent) and the trend's error
  (the same on every day) before taking the 80% quantile of a normal distribution.

Money stays exact where it is known: spend to date is a Decimal sum of actuals. Expected values are model
estimates, computed in float and rounded to cents.
"""

from __future__ import annotations

import calendar
import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

LOOKBACK_DAYS = 56  # eight weeks
MIN_SEASONAL_DAYS = 14  # two weeks: below that the model falls back to the mean
Z_80 = 1.2815515655446004  # the 90th percentile of the standard normal: a two-sided 80% interval
SHORT_HISTORY_SPREAD = 0.5  # a short history's daily spread is at least half its mean
MODEL_SEASONAL = "weekly-seasonal-trend-v1"
MODEL_MEAN = "mean-short-history-v1"
MODEL_ACTUALS = "actuals-month-complete"
MODEL_NONE = "no-history"
ZERO = Decimal(0)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class DayForecast:
    """One day after `as_of`: its expected cost with an 80% interval, and the month's cumulative cost through it."""

    usage_date: date
    expected: Decimal
    lower: Decimal
    upper: Decimal
    cumulative: Decimal
    cumulative_lower: Decimal
    cumulative_upper: Decimal


@dataclass(frozen=True)
class MonthForecast:
    """Spend to date in `as_of`'s month, the forecast of each later day of the month, and the month-end total."""

    month: date  # first day of the month
    as_of: date
    spend_to_date: Decimal  # exact sum of the month's actual cost through `as_of`
    actuals: tuple[tuple[date, Decimal], ...]  # each day of the month through `as_of` (0 where none)
    days: tuple[DayForecast, ...]  # each day after `as_of` to the month's end
    month_end: Decimal
    month_end_lower: Decimal
    month_end_upper: Decimal
    model: str
    history_days: int  # days of history the model read (at most LOOKBACK_DAYS)

    def cumulative_on(self, day: date) -> Decimal:
        """The month's cumulative cost through `day`: actual to `as_of`, then projected."""
        if day <= self.as_of:
            return sum((cost for d, cost in self.actuals if d <= day), ZERO)
        return next(f.cumulative for f in self.days if f.usage_date == day)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def cents(value: float) -> Decimal:
    """A model estimate as money: rounded to cents."""
    return Decimal(str(round(value, 2))).quantize(CENT)


def forecast_month(history: Mapping[date, Decimal], as_of: date) -> MonthForecast:
    """Forecast the rest of `as_of`'s month from the daily cost up to `as_of` (later days are ignored).

    Days missing inside the history (between its first day and `as_of`) count as 0. A complete month
    returns its actuals with a zero-width interval; a history shorter than two weeks falls back to its
    mean with a wide interval (`model` says which).
    """
    first, last = as_of.replace(day=1), month_end(as_of)
    known = {d: v for d, v in history.items() if d <= as_of}
    month_days = [first + timedelta(n) for n in range((as_of - first).days + 1)]
    actuals = tuple((day, known.get(day, ZERO)) for day in month_days)
    spend = sum((cost for _, cost in actuals), ZERO)
    start = max(min(known, default=as_of + timedelta(1)), as_of - timedelta(LOOKBACK_DAYS - 1))
    window = [float(known.get(start + timedelta(n), ZERO)) for n in range((as_of - start).days + 1)]
    remaining = [as_of + timedelta(n) for n in range(1, (last - as_of).days + 1)]
    if not remaining:
        return MonthForecast(first, as_of, spend, actuals, (), spend, spend, spend, MODEL_ACTUALS, len(window))
    if not window:
        nothing = tuple(DayForecast(d, ZERO, ZERO, ZERO, spend, spend, spend) for d in remaining)
        return MonthForecast(first, as_of, spend, actuals, nothing, spend, spend, spend, MODEL_NONE, 0)
    if len(window) < MIN_SEASONAL_DAYS:
        path = _mean_path(window, len(remaining))
        model = MODEL_MEAN
    else:
        path = _seasonal_path(window, as_of, remaining)
        model = MODEL_SEASONAL
    days = []
    for day, (expected, day_sd, cumulative, cumulative_sd) in zip(remaining, path, strict=True):
        days.append(
            DayForecast(
                day,
                cents(expected),
                cents(max(expected - Z_80 * day_sd, 0.0)),
                cents(expected + Z_80 * day_sd),
                spend + cents(cumulative),
                spend + cents(max(cumulative - Z_80 * cumulative_sd, 0.0)),
                spend + cents(cumulative + Z_80 * cumulative_sd),
            )
        )
    end = days[-1]
    return MonthForecast(
        first,
        as_of,
        spend,
        actuals,
        tuple(days),
        end.cumulative,
        end.cumulative_lower,
        end.cumulative_upper,
        model,
        len(window),
    )


# Each remaining day: (expected, its standard deviation, cumulative expected after as_of, that sum's deviation).
Path = list[tuple[float, float, float, float]]


def _mean_path(window: list[float], horizon: int) -> Path:
    """A short history: every day expected at the mean, spread at least half the mean, days independent."""
    mean = statistics.fmean(window)
    spread = max(statistics.stdev(window) if len(window) > 1 else 0.0, SHORT_HISTORY_SPREAD * abs(mean))
    # The mean of n days is itself uncertain by spread / sqrt(n), and that error repeats on every day.
    mean_error = spread / math.sqrt(len(window))
    path, total = [], 0.0
    for h in range(1, horizon + 1):
        total += mean
        total_sd = math.sqrt(h * spread**2 + (h * mean_error) ** 2)
        path.append((mean, math.sqrt(spread**2 + mean_error**2), total, total_sd))
    return path


def weekday_factors(window: list[float], as_of: date) -> dict[int, float]:
    """Per weekday (0 = Monday), the median ratio of a day's cost to the 7-day mean centred on it, normalised to 1.

    The centred mean follows a linear trend, so a growing series does not bias the factors; the first and
    last three days (no centred week) and days whose week had no cost are skipped.
    """
    ratios: dict[int, list[float]] = {w: [] for w in range(7)}
    n = len(window)
    for t in range(3, n - 3):
        mean = statistics.fmean(window[t - 3 : t + 4])
        if mean > 0:
            ratios[(as_of - timedelta(n - 1 - t)).weekday()].append(window[t] / mean)
    factors = {w: statistics.median(r) if r else 1.0 for w, r in ratios.items()}
    scale = statistics.fmean(factors.values())
    return {w: f / scale for w, f in factors.items()} if scale > 0 else dict.fromkeys(range(7), 1.0)


def theil_sen(points: list[tuple[float, float]]) -> tuple[float, float]:
    """(intercept, slope): the median of pairwise slopes, and the median intercept under it."""
    slopes = [(y2 - y1) / (x2 - x1) for i, (x1, y1) in enumerate(points) for x2, y2 in points[i + 1 :] if x2 != x1]
    slope = statistics.median(slopes) if slopes else 0.0
    intercept = statistics.median(y - slope * x for x, y in points)
    return intercept, slope


def _seasonal_path(window: list[float], as_of: date, remaining: list[date]) -> Path:
    """Day-of-week factors times a Theil-Sen trend; the spread is measured on the deseasonalised days."""
    n = len(window)
    days = [as_of - timedelta(n - 1 - t) for t in range(n)]
    factors = weekday_factors(window, as_of)
    # Weekdays that carry (almost) no cost tell nothing about the level: the trend is fitted on the others.
    points = [(float(t), window[t] / factors[d.weekday()]) for t, d in enumerate(days) if factors[d.weekday()] > 0.05]
    if len(points) < 2:
        points = [(float(t), value) for t, value in enumerate(window)]
        factors = dict.fromkeys(range(7), 1.0)
    intercept, slope = theil_sen(points)
    residuals = [y - (intercept + slope * x) for x, y in points]
    center = statistics.median(residuals)
    robust = 1.4826 * statistics.median(abs(r - center) for r in residuals)
    plain = statistics.pstdev(residuals)
    sigma = plain if plain > 2 * robust else robust  # deseasonalised daily noise
    sigma *= math.sqrt(len(points) / max(len(points) - 8, 1))  # 6 weekday factors and 2 trend terms were fitted
    xs = [x for x, _ in points]
    x_mean = statistics.fmean(xs)
    sxx = sum((x - x_mean) ** 2 for x in xs) or 1.0
    m = len(points)
    # A weekday factor is a median of one ratio per week: its relative error is about sqrt(pi/2 / weeks) times the
    # days' relative noise, and it repeats on every remaining day of that weekday.
    level = statistics.fmean(y for _, y in points)
    factor_error = 0.0 if level <= 0 else math.sqrt(math.pi / 2 / max(n // 7, 1)) * sigma / level
    path: Path = []
    total = noise_var = factor_sum = weighted_offset = 0.0
    by_weekday: dict[int, float] = {}
    for h, day in enumerate(remaining, start=1):
        t = n - 1 + h
        factor = factors[day.weekday()]
        expected = factor * max(intercept + slope * t, 0.0)
        day_var = (factor * sigma) ** 2 * (1 + 1 / m + (t - x_mean) ** 2 / sxx) + (expected * factor_error) ** 2
        # The days' noise is independent; the trend line's error (intercept and slope) is shared by every day.
        total += expected
        noise_var += (factor * sigma) ** 2
        factor_sum += factor
        weighted_offset += factor * (t - x_mean)
        by_weekday[day.weekday()] = by_weekday.get(day.weekday(), 0.0) + expected
        trend_var = sigma**2 * (factor_sum**2 / m + weighted_offset**2 / sxx)
        weekday_var = sum((part * factor_error) ** 2 for part in by_weekday.values())
        path.append((expected, math.sqrt(day_var), total, math.sqrt(noise_var + trend_var + weekday_var)))
    return path
