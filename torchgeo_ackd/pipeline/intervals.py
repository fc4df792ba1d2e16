"""Confidence intervals of accuracy over runs, and paired differences between methods.

Methods share their (fold, seed) run keys, so differences are taken run by run: the
fold and seed effects cancel, and a gain of a point or two can be told from noise.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scipy.stats import t as student_t


@dataclass(frozen=True)
class Interval:
    """A mean with its two-sided confidence interval.

    Attributes:
        mean: Mean of the values.
        low: Lower bound (NaN with fewer than two values).
        high: Upper bound (NaN with fewer than two values).
        n: Number of values.
        std: Sample standard deviation (0 for one value).
    """

    mean: float
    low: float
    high: float
    n: int
    std: float

    @property
    def half_width(self) -> float:
        """Half the interval's width (NaN with fewer than two values)."""
        return (self.high - self.low) / 2

    def excludes_zero(self) -> bool:
        """Whether the interval lies wholly above or below zero."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        """``mean ± half-width`` (or the mean alone for one value)."""
        if self.n < 2:
            return f'{self.mean:.2f}'
        return f'{self.mean:.2f} ± {self.half_width:.2f}'


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """Student-t confidence interval of the mean of independent values.

    Args:
        values: At least one value.
        confidence: Coverage of the interval, in (0, 1).

    Returns:
        The interval: mean ± t_{(1+c)/2, n-1} * std / sqrt(n).

    Raises:
        ValueError: If *values* is empty or *confidence* is outside (0, 1).
    """
    if not values:
        raise ValueError('mean_interval needs at least one value')
    if not 0 < confidence < 1:
        raise ValueError(f'confidence must lie in (0, 1), got {confidence}')
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return Interval(mean, math.nan, math.nan, 1, 0.0)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(student_t.ppf((1 + confidence) / 2, n - 1)) * std / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, std)


def paired_difference(
    method: Mapping[str, float], baseline: Mapping[str, float], confidence: float = 0.95
) -> Interval:
    """Interval of the mean run-by-run difference ``method - baseline``.

    Args:
        method: Value per run key (e.g. ``'fold2_seed1'``).
        baseline: Value per run key of the method compared against.
        confidence: Coverage of the interval.

    Returns:
        The interval of the mean difference over the keys both have.

    Raises:
        ValueError: If the two share no run key.
    """
    keys = sorted(set(method) & set(baseline))
    if not keys:
        raise ValueError('the two methods share no (fold, seed) run to compare')
    return mean_interval([method[k] - baseline[k] for k in keys], confidence)
