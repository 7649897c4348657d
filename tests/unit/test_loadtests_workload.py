"""What a load run sends and accepts: options, key defaults, response checks, Locust command."""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import pytest

from loadtests.commands import register_load
from loadtests.runner import SCENARIOS, LoadPlan, start_load
from loadtests.workload import (
    DEFAULT_INSTRUMENTS,
    ENV_API_KEY,
    ENV_FEATURE_COUNT,
    ENV_INSTRUMENTS,
    LoadConfigError,
    LoadRunError,
    Workload,
    default_api_key,
    feature_counts,
    features_problem,
    parse_instrument,
    parse_instruments,
    prediction_problem,
)

GOOD_PREDICTION = {"model": "direction", "version": "v1", "variant": "A", "label": 1,
                   "probability_up": 0.53, "t_ns": None}  # fmt: skip
GOOD_FEATURES = {"venue": "binance", "symbol": "BTC-USDT", "t_ns": 5, "features": {"ofi": None}}


def test_instruments_parse_and_default() -> None:
    assert parse_instrument(" Binance:BTC-USDT ") == ("binance", "BTC-USDT")
    assert parse_instruments("binance:BTC-USDT,coinbase:ETH-USD") == (
        ("binance", "BTC-USDT"),
        ("coinbase", "ETH-USD"),
    )
    assert parse_instruments(" , ") == DEFAULT_INSTRUMENTS == (("binance", "BTC-USDT"),)


@pytest.mark.parametrize(
    "text", ["BTC-USDT", "binance:", ":BTC", "bin/ance:BTC", "binance:BTC/USDT"]
)
def test_bad_instrument_is_a_typed_error(text: str) -> None:
    with pytest.raises(LoadConfigError, match="venue:SYMBOL"):
        parse_instrument(text)


def test_api_key_defaults_to_first_server_key_then_load_key() -> None:
    assert default_api_key({"MDC_API_KEYS": " k1 , k2", ENV_API_KEY: "load"}) == "k1"
    assert default_api_key({"MDC_API_KEYS": " , ", ENV_API_KEY: "load"}) == "load"
    assert default_api_key({}) is None


def test_good_bodies_pass() -> None:
    assert prediction_problem(GOOD_PREDICTION) is None
    assert prediction_problem(GOOD_PREDICTION | {"t_ns": 12, "probability_up": 1}) is None
    assert features_problem(GOOD_FEATURES, "binance", "BTC-USDT") is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"label": None}, "field 'label' has type NoneType"),
        ({"label": True}, "field 'label' has type bool"),
        ({"probability_up": 1.5}, "outside [0, 1]"),
        ({"variant": 1}, "field 'variant' has type int"),
    ],
)
def test_prediction_with_bad_field_is_a_problem(change: dict, message: str) -> None:
    assert message in (prediction_problem(GOOD_PREDICTION | change) or "")


def test_prediction_missing_field_or_not_object_is_a_problem() -> None:
    body = dict(GOOD_PREDICTION)
    del body["version"]
    assert prediction_problem(body) == "missing field 'version'"
    assert prediction_problem([GOOD_PREDICTION]) == "body is list, not a JSON object"


def test_features_for_another_instrument_or_without_features_is_a_problem() -> None:
    assert "got binance:BTC-USDT" in (features_problem(GOOD_FEATURES, "binance", "ETH-USDT") or "")
    assert features_problem(GOOD_FEATURES | {"features": []}, "binance", "BTC-USDT") == (
        "field 'features' has type list"
    )


def test_feature_counts_from_model_catalogue() -> None:
    body = {
        "models": [
            {"name": "direction", "version": "v1", "features": ["a", "b", "c"]},
            {"name": "direction", "version": "v2", "n_features": 4},
            {"name": "direction", "version": "v3"},
            "junk",
        ],
        "ab": {},
    }
    assert feature_counts(body) == {"v1": 3, "v2": 4}


@pytest.mark.parametrize("body", [{}, [], {"models": "x"}, {"models": [{"version": "v1"}]}])
def test_catalogue_without_feature_lists_is_a_typed_error(body: object) -> None:
    with pytest.raises(LoadRunError, match="/v1/models"):
        feature_counts(body)


def test_workload_travels_as_environment_and_checks_itself() -> None:
    env = Workload((("kraken", "BTC-USD"),), feature_count=12, seed=3).to_env("secret")
    assert env[ENV_API_KEY] == "secret"
    assert env[ENV_INSTRUMENTS] == "kraken:BTC-USD"
    assert env[ENV_FEATURE_COUNT] == "12"
    assert Workload().to_env("k")[ENV_FEATURE_COUNT] == "0"
    with pytest.raises(LoadConfigError, match="feature count"):
        Workload(feature_count=0)
    with pytest.raises(LoadConfigError, match="instrument"):
        Workload(instruments=())
    with pytest.raises(LoadConfigError, match="think"):
        Workload(think_s=-1)


def test_plan_builds_a_bounded_headless_locust_command(tmp_path: Path) -> None:
    plan = LoadPlan("http://127.0.0.1:8000/", 8, 2.2, tmp_path, "all")
    command = plan.command()
    assert command[1:3] == ["-m", "locust"]
    files = command[command.index("-f") + 1].split(",")
    assert [Path(f).name for f in files] == list(SCENARIOS["all"])
    assert all(Path(f).is_file() for f in files)
    flags = dict(itertools.pairwise(command))
    assert flags["-u"] == "8" and flags["-r"] == "8" and flags["-t"] == "3s"
    assert flags["--host"] == "http://127.0.0.1:8000"
    assert flags["--csv"] == str(tmp_path / "locust")
    assert "--headless" in command and "--only-summary" in command
    assert "KEY" not in " ".join(command).upper()
    assert LoadPlan("http://h", 4, 1, tmp_path, spawn_rate=0.5).command().count("0.5") == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"host": "127.0.0.1:8000"}, "http://"),
        ({"users": 0}, "users"),
        ({"duration_s": 0}, "duration"),
        ({"scenario": "book"}, "unknown scenario"),
        ({"spawn_rate": 0.0}, "spawn rate"),
    ],
)
def test_bad_plan_is_a_typed_error(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = {"host": "http://h", "users": 1, "duration_s": 1.0, "out_dir": tmp_path} | kwargs
    with pytest.raises(LoadConfigError, match=message):
        LoadPlan(**args)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mdc")
    register_load(parser.add_subparsers(dest="command"))
    return parser.parse_args(["load", *argv])


def test_cli_defaults_match_the_documented_ones() -> None:
    args = parse()
    assert (args.users, args.duration, args.host) == (8, 30.0, "http://127.0.0.1:8000")
    assert (args.scenario, args.spawn_rate, args.max_error_rate) == ("predict", None, 1.0)
    assert args.api_key is None and args.instrument is None and args.feature_count is None


@pytest.mark.parametrize(
    "argv",
    [["--users", "0"], ["--duration", "-1"], ["--max-error-rate", "1.5"], ["--scenario", "x"],
     ["--think-ms", "-2"], ["--spawn-rate", "0"]],
)  # fmt: skip
def test_cli_rejects_bad_values(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        parse(*argv)
    assert exc.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_start_without_api_key_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(LoadConfigError, match="API key"):
        start_load("http://127.0.0.1:1", 1, 1, "", tmp_path)
    assert list(tmp_path.iterdir()) == []
