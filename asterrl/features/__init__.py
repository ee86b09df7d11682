"""Indicator kernels and the feature pipeline.

``FeaturePipeline.from_config(cfg.features)`` turns market inputs into a float32 matrix with named columns;
``REGISTRY`` lists every feature with its parameters, inputs, outputs and warm-up.
"""

from asterrl.features.config import FeaturesConfig, FeatureSpecConfig, NormalizationConfig, NormalizationMode
from asterrl.features.inputs import Input, MarketInputs
from asterrl.features.matrix import FeatureMatrix
from asterrl.features.pipeline import FeaturePipeline, FeatureSpec
from asterrl.features.registry import REGISTRY, FeatureDef, get_feature, iter_features

__all__ = [
    "REGISTRY",
    "FeatureDef",
    "FeatureMatrix",
    "FeaturePipeline",
    "FeatureSpec",
    "FeatureSpecConfig",
    "FeaturesConfig",
    "Input",
    "MarketInputs",
    "NormalizationConfig",
    "NormalizationMode",
    "get_feature",
    "iter_features",
]
