"""The usual behaviour a negative-spike window is judged against (pure statistics, no state).

* :func:`usual_rate`: the Poisson null rate behind the likelihood-ratio evidence.
* :func:`dispersion`: how much burstier than Poisson a subject's short windows are.
* :func:`seasonal_usual`: the usual count of this hour of the day, once a week of history exists.
* :func:`empirical_bar`: the empirical null, how far above the crisis count a subject's own
  ordinary days already go, so that its past crossed the bar at most ``budget`` days a week.

Used by :mod:`pipeline.detect.spikes`; the reasons for each constant are on the constant.
"""

from __future__ import annotations

import math
import statistics

__all__ = [
    "MIN_PEAK_DAYS",
    "PEAK_DAYS",
    "SEASON_HOURS",
    "dispersion",
    "empirical_bar",
    "seasonal_usual",
    "usual_rate",
]

PEAK_DAYS = 28
"""Daily peaks kept for the empirical bar: four weeks (a bounded state that follows a subject's
growth within a month, and enough days for a once-a-week quantile)."""
MIN_PEAK_DAYS = 7
"""The empirical bar needs a week of daily peaks: the budget is a rate per week, which cannot
be read off less than a week of the subject's own behaviour (before that the parametric bar
stands)."""
SEASON_HOURS = 7 * 24
"""A week of hourly counts: each hour of the day seen on 7 days (every weekday once)."""


def usual_rate(hours: list[float], crisis_rate: float) -> float:
    """Usual rate under the null hypothesis (per hour): the mean of the hourly counts, each
    capped at the crisis rate (a past crisis moves it by a bounded amount), never below the
    median (the definition's usual rate) nor below half a mention over the history (an empty
    history is not a zero rate, and the likelihood ratio stays finite)."""
    capped = statistics.fmean(min(c, crisis_rate) for c in hours)
    return max(statistics.median(hours), capped, 0.5 / len(hours))


def dispersion(blocks: list[float]) -> float:
    """Quasi-Poisson dispersion of window counts: robust variance / mean, at least 1.

    The variance is the interquartile range scaled to a normal standard deviation (a past
    crisis does not inflate it); Poisson counts give about 1, bursty or cyclic streams more.
    """
    if len(blocks) < 8:  # too few past windows for quartiles: Poisson
        return 1.0
    q1, _, q3 = statistics.quantiles(blocks, n=4)
    mean = statistics.fmean(blocks)
    return max(1.0, ((q3 - q1) / 1.349) ** 2 / mean) if mean > 0 else 1.0


def seasonal_usual(week_hours: list[float]) -> list[float] | None:
    """Counts of the current hour of the day on each of the last 7 days (``week_hours`` holds the
    last :data:`SEASON_HOURS` complete hours, the newest last, and the hour now accumulating
    follows it), or None before a week of history."""
    if len(week_hours) < SEASON_HOURS:
        return None
    return [week_hours[-24 * j] for j in range(1, 8)]


def empirical_bar(peaks: list[float], budget_per_week: float) -> float:
    """How far above its crisis count a subject must go so that its own past would have crossed
    the bar on at most ``budget_per_week`` days a week (1 = the user's sensitivity stands).

    ``peaks`` are the subject's daily peak scores (count / crisis count, the worst window of
    the day); the bar is the ``k+1``-th largest of them with ``k = floor(budget x days / 7)``,
    so at most ``k`` past days exceed it: an empirical null in place of the Poisson one, for
    streams whose ordinary days hold 3x-100x excursions. Before :data:`MIN_PEAK_DAYS` days the
    parametric bar stands.
    """
    if len(peaks) < MIN_PEAK_DAYS:
        return 1.0
    k = math.floor(budget_per_week * len(peaks) / 7)
    if k >= len(peaks):
        return 1.0
    return max(1.0, sorted(peaks, reverse=True)[k])
