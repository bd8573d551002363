"""Leak-free preparation of a multivariate series for one-step-at-a-horizon forecasting.

A window ``i`` holds rows ``i .. i + lookback - 1`` (its last row is the forecast *origin*) and
its target is the target column at ``origin + horizon``. Everything here keeps time order: the
split is chronological, the scaler is fitted on the training rows only, and the baselines for a
window only look at rows up to its origin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STEPS_PER_DAY = 144  # 10-minute data


@dataclass(frozen=True)
class Split:
    """Row ranges ``[start, stop)`` of the chronological train / validation / test parts."""

    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]


def chronological_split(n_rows: int, fractions=(0.7, 0.15, 0.15)) -> Split:
    """Split ``n_rows`` in time order (no shuffling): the first 70% train, then 15%, 15%."""
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions must be three positive numbers summing to 1, got {fractions}")
    a = int(round(n_rows * fractions[0]))
    b = int(round(n_rows * (fractions[0] + fractions[1])))
    return Split((0, a), (a, b), (b, n_rows))


def check_windows(part: tuple[int, int], lookback: int, horizon: int, name: str) -> int:
    """Number of windows a part holds; a clear error if the lookback does not fit in it."""
    rows = part[1] - part[0]
    count = rows - lookback - horizon + 1
    if lookback < 1 or horizon < 1:
        raise ValueError(f"lookback and horizon must be >= 1, got {lookback} and {horizon}")
    if count < 1:
        raise ValueError(
            f"the {name} part has {rows} rows: too short for a lookback of {lookback} plus a "
            f"horizon of {horizon} steps; use a shorter lookback or a larger {name} share"
        )
    return count


def fit_minmax(train_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column minimum and range of the **training rows only** (constant columns: range 1)."""
    lo = train_values.min(axis=0)
    span = train_values.max(axis=0) - lo
    return lo, np.where(span > 0, span, 1.0)


def origins(part: tuple[int, int], lookback: int, horizon: int) -> np.ndarray:
    """Row index of each window's origin (its last row) within ``part``, in order."""
    count = check_windows(part, lookback, horizon, "given")
    return part[0] + lookback - 1 + np.arange(count)


def baselines(target: np.ndarray, origin_rows: np.ndarray, horizon: int, train_median: float,
              steps_per_day: int = STEPS_PER_DAY) -> dict[str, np.ndarray]:  # fmt: skip
    """Naive forecasts of ``target[origin + horizon]`` that use only data up to the origin.

    - ``persistence``: the value at the origin;
    - ``seasonal_naive``: the median of the same time of day (as the forecast time) over the 7
      days before the origin;
    - ``train_median``: a constant.
    """
    days_back = -(-horizon // steps_per_day)  # the first whole day at or before the origin
    lags = horizon - steps_per_day * (days_back + np.arange(7))  # offsets from the origin, <= 0
    rows = origin_rows[:, None] + lags[None, :]
    if rows.min() < 0:
        raise ValueError(
            f"the seasonal naive baseline needs {-lags.min()} steps of history before the first "
            "origin; start the windows later"
        )
    return {
        "persistence": target[origin_rows],
        "seasonal_naive": np.median(target[rows], axis=1),
        "train_median": np.full(len(origin_rows), train_median),
    }
