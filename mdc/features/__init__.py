"""Streaming microstructure features (specs/features.md): exact, Ray-free, sans-I/O.

`FeatureEngine` computes one instrument's features from trades and book samples;
`FeatureTracker` maps mdc events onto one engine per instrument, the same live and in replay.
"""

from mdc.features.config import FeatureConfig, FeatureSpec, load_feature_config
from mdc.features.engine import FeatureEngine
from mdc.features.errors import FeatureConfigError, QueryOrderError
from mdc.features.tracker import FeatureTracker, FeatureVector

ALL_FEATURES: tuple[str, ...] = FeatureConfig.default().names

__all__ = [
    "ALL_FEATURES",
    "FeatureConfig",
    "FeatureConfigError",
    "FeatureEngine",
    "FeatureSpec",
    "FeatureTracker",
    "FeatureVector",
    "QueryOrderError",
    "load_feature_config",
]
