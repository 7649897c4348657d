"""Toxic types by name: built-ins, entry-point plugins, typed errors, attribute decoding."""

import importlib.metadata

import pytest

from chaos.toxiproxy.errors import BadRequest, BadToxicPlugin, DuplicateToxic
from chaos.toxiproxy.toxics import BUILTIN_TOXICS, load_toxics
from chaos.toxiproxy.toxics.latency import Latency, LatencyAttrs
from chaos.toxiproxy.toxics.noop import Noop

EXPECTED = {
    "noop",
    "latency",
    "bandwidth",
    "slow_close",
    "timeout",
    "reset_peer",
    "slicer",
    "limit_data",
}


class OtherLatency(Noop):
    name = "latency"


class Dripping(Noop):
    name = "dripping"


def fake_entry_points(monkeypatch, group, entries):
    eps = importlib.metadata.EntryPoints(
        importlib.metadata.EntryPoint(name, f"{__name__}:{target}", group)
        for name, target in entries
    )
    real = importlib.metadata.entry_points

    def entry_points(**kwargs):
        return eps if kwargs.get("group") == group else real(**kwargs)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


def test_builtins_are_every_toxiproxy_type():
    assert set(BUILTIN_TOXICS) == EXPECTED
    assert all(cls.name == name for name, cls in BUILTIN_TOXICS.items())


def test_an_empty_group_gives_the_builtins():
    assert load_toxics("mdc.toxics.test-empty-group") == BUILTIN_TOXICS


def test_entry_points_add_a_third_party_toxic(monkeypatch):
    fake_entry_points(monkeypatch, "g", [("dripping", "Dripping")])
    assert load_toxics("g")["dripping"] is Dripping


def test_entry_points_may_repeat_a_builtin_with_the_same_class(monkeypatch):
    fake_entry_points(monkeypatch, "g", [("latency", "Latency")])
    assert load_toxics("g")["latency"] is Latency


def test_a_different_class_for_a_builtin_name_is_a_duplicate(monkeypatch):
    fake_entry_points(monkeypatch, "g", [("latency", "OtherLatency")])
    with pytest.raises(DuplicateToxic):
        load_toxics("g")


def test_an_entry_named_unlike_its_toxic_is_rejected(monkeypatch):
    fake_entry_points(monkeypatch, "g", [("drip", "Dripping")])
    with pytest.raises(BadToxicPlugin):
        load_toxics("g")


def test_attributes_merge_and_drop_unknown_keys():
    toxic = Latency.from_json({"latency": 300, "bogus": 1})
    assert toxic.to_json() == {"latency": 300, "jitter": 0}
    merged = Latency.from_json({"jitter": 5}, toxic.attrs)
    assert merged.attrs == LatencyAttrs(latency=300, jitter=5)


@pytest.mark.parametrize(
    ("value", "kind"), [("300", "string"), (1.5, "number 1.5"), (True, "bool"), ([], "array")]
)
def test_non_integer_attributes_get_gos_message(value, kind):
    with pytest.raises(BadRequest) as info:
        Latency.from_json({"latency": value})
    assert info.value.message == (
        f"bad request body: json: cannot unmarshal {kind} into Go struct field "
        "LatencyToxic.attributes.latency of type int64"
    )
