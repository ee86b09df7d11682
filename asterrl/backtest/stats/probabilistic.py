"""Probabilistic and deflated Sharpe ratios and the minimum track-record length.

All Sharpe ratios are **per bar** (not annualised); a trial-Sharpe variance is the variance of per-bar
Sharpe ratios (an annualised variance divides by ``bars_per_year`` to become one).

Sources:

* Bailey, D. H. and López de Prado, M. (2012), "The Sharpe Ratio Efficient Frontier", Journal of Risk
  15(2): the probabilistic Sharpe ratio ``PSR(SR*) = Phi((SR - SR*) sqrt(T - 1) / sqrt(1 - skew SR +
  (kurt - 1)/4 SR^2))`` and the minimum track-record length ``MinTRL = 1 + (1 - skew SR + (kurt - 1)/4
  SR^2) (z_conf / (SR - SR*))^2``.
* Bailey, D. H. and López de Prado, M. (2014), "The Deflated Sharpe Ratio: Correcting for Selection Bias,
  Backtest Overfitting and Non-Normality", Journal of Portfolio Management 40(5): the expected maximum
  Sharpe of N trials ``sqrt(V) ((1 - g) Phi^-1(1 - 1/N) + g Phi^-1(1 - 1/(N e)))`` (g the Euler–Mascheroni
  constant) and the DSR, the PSR against that benchmark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import norm

from asterrl.backtest.stats.sharpe import (
    as_returns,
    kurtosis,
    sharpe_ratio,
    sharpe_variance_factor,
    skewness,
)
from asterrl.errors import DataError

#: The Euler–Mascheroni constant.
EULER_GAMMA = 0.5772156649015329


def probabilistic_sharpe_ratio(
    sharpe: float, benchmark: float, observations: int, skew: float = 0.0, kurt: float = 3.0
) -> float:
    """Probability that the true per-bar Sharpe exceeds ``benchmark``, given the observed per-bar
    ``sharpe`` over ``observations`` returns of that skewness and (non-excess) kurtosis (Bailey & López de
    Prado 2012, eq. for PSR)."""
    if observations < 2:
        raise DataError(f"the PSR needs at least 2 observations, got {observations}")
    factor = sharpe_variance_factor(sharpe, skew, kurt)
    if factor <= 0.0:
        raise DataError("skewness and kurtosis give a non-positive Sharpe variance (kurtosis too low)")
    z = (sharpe - benchmark) * math.sqrt(observations - 1.0) / math.sqrt(factor)
    return float(norm.cdf(z))


def minimum_track_record_length(
    sharpe: float, benchmark: float, skew: float = 0.0, kurt: float = 3.0, confidence: float = 0.95
) -> float:
    """Bars of track record needed for ``PSR(benchmark) >= confidence`` at the observed per-bar ``sharpe``
    (Bailey & López de Prado 2012); ``inf`` when the Sharpe does not beat the benchmark."""
    if not 0.0 < confidence < 1.0:
        raise DataError(f"confidence must be in (0, 1), got {confidence}")
    if sharpe <= benchmark:
        return math.inf
    z = float(norm.ppf(confidence))
    return 1.0 + sharpe_variance_factor(sharpe, skew, kurt) * (z / (sharpe - benchmark)) ** 2


def expected_maximum_sharpe(n_trials: int, trial_sharpe_variance: float) -> float:
    """Expected largest of ``n_trials`` independent per-bar Sharpe estimates with true Sharpe 0 and variance
    ``trial_sharpe_variance`` across trials (Bailey & López de Prado 2014, from the extreme-value law of
    the maximum of normals); 0 for a single trial."""
    if n_trials < 1:
        raise DataError(f"the number of trials must be >= 1, got {n_trials}")
    if trial_sharpe_variance < 0.0:
        raise DataError(
            f"the variance of the trials' Sharpe ratios must be >= 0, got {trial_sharpe_variance}"
        )
    if n_trials == 1:
        return 0.0
    z1 = float(norm.ppf(1.0 - 1.0 / n_trials))
    z2 = float(norm.ppf(1.0 - 1.0 / (n_trials * math.e)))
    return math.sqrt(trial_sharpe_variance) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)


@dataclass(frozen=True, slots=True)
class DeflatedSharpe:
    """The deflated Sharpe ratio of a selected strategy.

    :param probability: the DSR, probability that the true Sharpe beats the best of ``n_trials`` skill-less
        trials (>= 0.95 conventionally counts as surviving the search).
    :param sharpe: observed per-bar Sharpe of the selected strategy.
    :param benchmark: expected maximum per-bar Sharpe of the trials under no skill (``SR0``).
    :param observations: returns behind ``sharpe``.
    :param n_trials: strategies tried in the search (including the selected one).
    :param trial_sharpe_variance: variance of the trials' per-bar Sharpe ratios.
    """

    probability: float
    sharpe: float
    benchmark: float
    observations: int
    n_trials: int
    trial_sharpe_variance: float


def deflated_sharpe_ratio(
    sharpe: float,
    observations: int,
    n_trials: int,
    trial_sharpe_variance: float,
    skew: float = 0.0,
    kurt: float = 3.0,
) -> DeflatedSharpe:
    """The DSR: ``PSR(SR0)`` with ``SR0 = expected_maximum_sharpe(n_trials, trial_sharpe_variance)``
    (Bailey & López de Prado 2014). Inputs are per bar; see the module docstring for the units."""
    sr0 = expected_maximum_sharpe(n_trials, trial_sharpe_variance)
    prob = probabilistic_sharpe_ratio(sharpe, sr0, observations, skew, kurt)
    return DeflatedSharpe(prob, sharpe, sr0, observations, n_trials, trial_sharpe_variance)


def trial_sharpe_ratios(trial_returns: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Per-bar Sharpe of each column of a ``(T, N)`` matrix of trial returns (sample std, 0 when flat)."""
    m = np.asarray(trial_returns, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] < 2 or m.shape[1] < 1:
        raise DataError(f"trial returns must be a (bars, trials) matrix with >= 2 bars, got {m.shape}")
    if not np.all(np.isfinite(m)):
        raise DataError("trial returns contain NaN or infinite values")
    sd = m.std(axis=0, ddof=1)
    return np.where(sd > 1e-15, m.mean(axis=0) / np.where(sd > 1e-15, sd, 1.0), 0.0)


def deflated_sharpe_of_best(trial_returns: npt.ArrayLike) -> tuple[int, DeflatedSharpe]:
    """(column of the best trial, its DSR) for a ``(T, N)`` matrix holding every trial a search ran:
    ``n_trials = N`` and the trial-Sharpe variance is the sample variance of the N per-bar Sharpes."""
    m = np.asarray(trial_returns, dtype=np.float64)
    srs = trial_sharpe_ratios(m)
    best = int(np.argmax(srs))
    var = float(np.var(srs, ddof=1)) if srs.size > 1 else 0.0
    r = as_returns(m[:, best], "best trial's returns", min_size=3)
    return best, deflated_sharpe_ratio(sharpe_ratio(r), r.size, srs.size, var, skewness(r), kurtosis(r))
