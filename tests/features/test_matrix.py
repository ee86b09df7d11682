"""``FeatureMatrix``: one class of that name from the pipeline through the forecasts to the observation."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import asterrl.observation
from asterrl.errors import DataError
from asterrl.features import FeatureMatrix, FeaturePipeline, FeatureSpec, MarketInputs
from asterrl.observation import builtin_features

REPO = Path(__file__).resolve().parents[2]


def test_one_class_is_called_feature_matrix() -> None:
    defined = [
        f"{path.relative_to(REPO)}:{node.lineno}"
        for package in ("asterrl", "envs", "agents", "experiments")
        for path in sorted((REPO / package).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and node.name == "FeatureMatrix"
    ]
    assert len(defined) == 1 and defined[0].startswith("asterrl/features/matrix.py")
    assert asterrl.observation.FeatureMatrix is FeatureMatrix


def test_pipeline_and_builtin_features_make_the_same_type(market: MarketInputs) -> None:
    matrix = FeaturePipeline([FeatureSpec.create("rsi", {"period": 3})]).transform(market)
    assert type(matrix) is FeatureMatrix and matrix.warmup == 3 and matrix.first_valid_row == 3
    np.testing.assert_array_equal(matrix.timestamp, market.timestamp)
    frame = matrix.to_frame(drop_warmup=True)
    assert list(frame.columns) == ["timestamp", "rsi_3"] and len(frame) == market.n_bars - 3
    columns = ("timestamp", "open", "high", "low", "close")
    bars = pd.DataFrame({name: getattr(market, name) for name in columns} | {"volume": market.volume + 1.0})
    builtin = builtin_features(bars)
    assert type(builtin) is FeatureMatrix and builtin.first_valid_row == 1 and builtin.warmup == 1
    assert builtin.values.dtype == np.float32


def test_feature_matrix_checks_its_shape() -> None:
    with pytest.raises(DataError, match="one column per name"):
        FeatureMatrix(np.zeros((3, 2)), ("a",))
    with pytest.raises(DataError, match="2 feature timestamps for 3 rows"):
        FeatureMatrix(np.zeros((3, 1)), ("a",), np.arange(2))
    with pytest.raises(DataError, match="last feature row"):
        _ = FeatureMatrix(np.array([[1.0], [np.nan]]), ("a",)).first_valid_row
    with pytest.raises(DataError, match="no timestamps"):
        FeatureMatrix(np.zeros((3, 1)), ("a",)).to_frame()
    cast = FeatureMatrix(np.asfortranarray(np.ones((4, 2))), ["a", "b"])  # type: ignore[arg-type]
    assert cast.values.dtype == np.float32 and cast.columns == ("a", "b")
