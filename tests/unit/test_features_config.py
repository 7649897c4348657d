"""Feature configuration: seed item 10's YAML list, TOML tables, and errors naming the bad key."""

from __future__ import annotations

import pytest

from mdc.errors import CollectorError
from mdc.features import ALL_FEATURES, FeatureConfig, FeatureConfigError, load_feature_config

SEED_YAML = """\
features:
  - name: rolling_vwap
    type: VWAP
    windows: [5m, 15m, 1h]

  - name: order_imbalance
    type: OrderImbalance
    depth_levels: 5

  - name: spread_stats
    type: SpreadStatistics
    percentiles: [50, 90, 99]

  - name: trade_flow
    type: OrderFlow
    aggressor_side: true
  - name: microprice
    type: Microprice
  - name: ofi
    type: OrderFlowImbalance
  - name: rv
    type: RealizedVolatility
"""

TOML = """\
[[features]]
name = "rolling_vwap"
type = "VWAP"
windows = ["30m", "60m"]

[[features]]
name = "flow"
type = "OrderFlow"
windows = ["90s"]
aggressor_side = false

[[features]]
name = "oi"
type = "OrderImbalance"
depth_levels = 10
"""


def test_seed_yaml_plus_the_three_extra_types_is_the_default(tmp_path):
    path = tmp_path / "features.yaml"
    path.write_text(SEED_YAML)
    assert load_feature_config(path).names == ALL_FEATURES == FeatureConfig.default().names


def test_toml_tables_and_generic_values_name_features_by_pattern(tmp_path):
    path = tmp_path / "features.toml"
    path.write_text(TOML)
    assert load_feature_config(path).names == (
        "order_imbalance_l10",
        "trade_count_90s",
        "trade_intensity_90s",
        "vwap_30m",
        "vwap_1h",
    )


@pytest.mark.parametrize(
    ("entries", "needle"),
    [
        ([{"name": "x", "type": "Nope"}], "features[0] (x).type: unknown feature type 'Nope'"),
        ([{"name": "x", "type": "VWAP", "window": ["5m"]}], "unknown key 'window' for VWAP"),
        ([{"name": "x", "type": "VWAP", "windows": ["5x"]}], "features[0] (x).windows: bad"),
        ([{"name": "x", "type": "VWAP", "windows": ["5m", "300s"]}], "listed twice"),
        ([{"name": "x", "type": "VWAP", "windows": []}], "windows: expected a non-empty list"),
        ([{"type": "VWAP"}], "features[0].name: required"),
        ([{"name": "x", "type": "OrderImbalance", "depth_levels": 0}], "depth_levels"),
        ([{"name": "x", "type": "OrderImbalance", "depth_levels": True}], "depth_levels"),
        ([{"name": "x", "type": "SpreadStatistics", "percentiles": [101]}], "percentiles"),
        ([{"name": "x", "type": "OrderFlow", "aggressor_side": "yes"}], "aggressor_side"),
        ([{"name": "a", "type": "VWAP"}, {"name": "b", "type": "VWAP"}], "'vwap_5m' is conf"),
        ([], "non-empty list"),
        (["VWAP"], "features[0]: expected a table"),
    ],
)
def test_bad_entries_raise_naming_the_key(entries, needle):
    with pytest.raises(FeatureConfigError) as info:
        FeatureConfig.from_entries(entries)
    assert needle in str(info.value) and isinstance(info.value, CollectorError)


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        ("f.yaml", "features: [\n", "not valid YAML"),
        ("f.toml", "[[features]\n", "not valid TOML"),
        ("f.yaml", "rolling_vwap: 1\n", "missing top-level key 'features'"),
        ("f.yaml", "features: []\nextra: 1\n", "unknown top-level key 'extra'"),
        ("f.json", "{}", "must end in .toml, .yaml or .yml"),
    ],
)
def test_bad_files_raise(tmp_path, name, text, needle):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(FeatureConfigError, match=needle):
        load_feature_config(path)


def test_a_file_that_is_not_utf8_is_a_feature_config_error(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_bytes(b"features:\n  - name: caf\xe9\n")
    with pytest.raises(FeatureConfigError, match=r"cannot read feature config .*not UTF-8 text"):
        load_feature_config(path)
