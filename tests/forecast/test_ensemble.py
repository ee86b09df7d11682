"""The stacked meta-learner against closed forms and optimality conditions."""

from __future__ import annotations

import numpy as np

from asterrl.forecast.ensemble import StackedEnsemble, fit_logistic, fit_ridge


def test_ridge_matches_the_normal_equations() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    y = 0.5 + x @ np.array([1.0, -2.0, 0.0]) + rng.normal(0, 0.1, 50)
    w, b = fit_ridge(x, y, penalty=2.0)
    # augmented system [1 x] with the intercept unpenalised
    a = np.column_stack([np.ones(50), x])
    reg = np.diag([0.0, 2.0, 2.0, 2.0])
    expected = np.linalg.solve(a.T @ a + reg, a.T @ y)
    np.testing.assert_allclose(np.r_[b, w], expected, rtol=1e-10, atol=1e-12)


def test_logistic_satisfies_first_order_conditions() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 2))
    y = (rng.random(400) < 1 / (1 + np.exp(-(0.3 + x @ np.array([1.5, -0.7]))))).astype(float)
    w, b = fit_logistic(x, y, penalty=1.0)
    p = 1 / (1 + np.exp(-(b + x @ w)))
    # gradient of the penalised negative log-likelihood is zero at the optimum
    np.testing.assert_allclose(np.sum(p - y), 0.0, atol=1e-8)
    np.testing.assert_allclose(x.T @ (p - y) + 1.0 * w, 0.0, atol=1e-8)


def test_too_few_rows_falls_back_to_the_mean() -> None:
    ret = np.array([[0.01, 0.03], [-0.02, 0.0]])
    p_up = np.array([[0.6, 0.8], [0.4, 0.5]])
    ensemble = StackedEnsemble(("a", "b")).fit(ret, p_up, np.array([0.01, -0.01]), min_rows=10)
    assert not ensemble.fitted
    out_ret, out_p = ensemble.predict(ret, p_up)
    np.testing.assert_allclose(out_ret, [0.02, -0.01])
    np.testing.assert_allclose(out_p, [0.7, 0.45])


def test_round_trip() -> None:
    rng = np.random.default_rng(2)
    ret = rng.normal(size=(300, 3))
    p_up = rng.uniform(0.2, 0.8, size=(300, 3))
    label = ret[:, 0] + rng.normal(0, 0.5, 300)
    ensemble = StackedEnsemble(("a", "b", "c"), penalty=0.5).fit(ret, p_up, label, min_rows=100)
    assert ensemble.fitted
    again = StackedEnsemble.from_dict(ensemble.to_dict())
    np.testing.assert_array_equal(again.predict(ret, p_up)[0], ensemble.predict(ret, p_up)[0])
    np.testing.assert_array_equal(again.predict(ret, p_up)[1], ensemble.predict(ret, p_up)[1])
