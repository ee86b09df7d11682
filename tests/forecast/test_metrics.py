"""Metrics, targets and baselines against numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from asterrl.forecast.metrics import (
    average_ranks,
    directional_accuracy,
    information_coefficient,
    last_sign_baseline,
    log_loss,
    rmse,
    score,
    zero_baseline,
)
from asterrl.forecast.targets import forward_log_return, trailing_log_return, up_label


def test_directional_accuracy_skips_zero_forecasts_and_labels() -> None:
    # rows 0..2 count (match, miss, match); row 3 has a zero forecast, row 4 a zero label, row 5 a NaN.
    f = [0.1, -0.2, 0.3, 0.0, 0.5, np.nan]
    y = [0.05, 0.1, 0.2, 0.3, 0.0, 0.1]
    assert directional_accuracy(f, y) == pytest.approx(2 / 3)
    assert math.isnan(directional_accuracy([0.0, 0.0], [0.1, -0.1]))


def test_information_coefficient_is_spearman() -> None:
    # ranks of y = 1, 3, 2, 4: d = 0, -1, 1, 0 -> 1 - 6 * 2 / (4 * 15) = 0.8
    assert information_coefficient([1, 2, 3, 4], [10, 30, 20, 40]) == pytest.approx(0.8)
    # tie in f: ranks 1.5, 1.5, 3, 4 against 1..4 -> 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10)
    assert information_coefficient([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(3 / math.sqrt(10))
    assert math.isnan(information_coefficient([1, 1, 1], [1, 2, 3]))
    np.testing.assert_allclose(average_ranks([3.0, 1.0, 3.0, 2.0]), [3.5, 1.0, 3.5, 2.0])


def test_rmse_and_log_loss() -> None:
    assert rmse([1.0, 2.0], [1.0, 4.0]) == pytest.approx(math.sqrt(2.0))
    assert log_loss([0.8, 0.4], [1.0, 0.0]) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    assert log_loss([0.5, 0.5, 0.5], [1.0, 0.0, 1.0]) == pytest.approx(math.log(2.0))


def test_targets() -> None:
    close = [100.0, 110.0, 121.0, 100.0]
    np.testing.assert_allclose(
        forward_log_return(close, 1), [math.log(1.1), math.log(1.1), math.log(100 / 121), np.nan]
    )
    np.testing.assert_allclose(
        forward_log_return(close, 2), [math.log(1.21), math.log(100 / 110), np.nan, np.nan]
    )
    np.testing.assert_allclose(
        trailing_log_return(close, 2), [np.nan, np.nan, math.log(1.21), math.log(100 / 110)]
    )
    np.testing.assert_array_equal(up_label([0.1, 0.0, -0.1, np.nan]), [1.0, 0.0, 0.0, np.nan])


def test_baselines() -> None:
    # training rows with a non-zero trailing move: (up, up) kept, (down, up) flipped, (up, down) flipped
    trailing_train = np.array([0.1, -0.1, 0.2, 0.0])
    label_train = np.array([0.05, 0.02, -0.1, 0.3])
    ret, p = last_sign_baseline(np.array([0.5, -0.5, 0.0, np.nan]), trailing_train, label_train)
    np.testing.assert_allclose(ret, [0.5, -0.5, 0.0, np.nan])
    np.testing.assert_allclose(p, [1 / 3, 2 / 3, 0.5, np.nan])
    zero_ret, zero_p = zero_baseline(3)
    scores = score(zero_ret, zero_p, [0.3, -0.4, 0.0])
    assert math.isnan(scores.directional_accuracy) and math.isnan(scores.information_coefficient)
    assert scores.rmse == pytest.approx(math.sqrt((0.09 + 0.16) / 3))
    assert scores.log_loss == pytest.approx(math.log(2.0))
    assert scores.n_rows == 3
