"""ActorFeatureSource on real Ray, following small test actors that serve a FeatureBoard the way
the BookActor does: the copy follows what the actors are fed, ages while an actor is gone, and
is replaced when a new incarnation (another epoch) takes the name."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import msgspec
import pytest
import ray

from actors.waiting import wait_until_sync
from mdc.features import FeatureConfig, FeatureTracker
from mdc.features.board import FeatureBoard, FeatureUpdate
from models.synthetic import synthetic_events
from serve.features_source import ActorFeatureSource, FeatureSourceUnavailable

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_runtime")]

TEMPLATE = "test-features-{venue}"
VENUE, BTC, ETH, SOL = "binance", "BTC-USDT", "ETH-USDT", "SOL-USDT"
LATE = "testex"
"""A venue whose actor starts after the source (a name no venue plugin has)."""


@ray.remote(num_cpus=0, max_restarts=0)
class BoardActor:
    """A FeatureTracker and its FeatureBoard, fed by the test (BookActor's feature side)."""

    def __init__(self, epoch: str, declared: list[tuple[str, str]]) -> None:
        self.board = FeatureBoard(FeatureTracker(FeatureConfig.default()), epoch)
        self.board.declare(declared, time.time_ns())
        self._news = asyncio.Event()

    async def feed(self, events: list) -> int:
        for event in events:
            self.board.tracker.on_event(event)
        self.board.touched(events)
        self._news.set()
        return len(events)

    async def feature_updates(self, epoch: str, since: int, wait_s: float) -> FeatureUpdate:
        if not self.board.has_news(epoch, since):
            self._news.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), wait_s)
        return self.board.updates(epoch, since)


def start_actor(started, namespace, venue, epoch, declared=()):
    """Create the venue's actor (killed after the test); the name of a killed one may take a
    moment to be free."""

    def create():
        try:
            return BoardActor.options(
                name=TEMPLATE.format(venue=venue), namespace=namespace
            ).remote(epoch, list(declared))
        except ValueError:  # the name is still taken by the killed incarnation
            return None

    actor = wait_until_sync(create, 10, f"the name of the {venue} actor to be free")
    started["actors"].append(actor)
    return actor


def follow(started, namespace, venues):
    source = ActorFeatureSource(TEMPLATE, namespace, venues, min_interval_s=0.01, wait_s=0.2)
    started["sources"].append(source)
    return source


def tracker_of(events):
    tracker = FeatureTracker(FeatureConfig.default())
    for event in events:
        tracker.on_event(event)
    return tracker


def found_vector(source, venue, symbol, t_ns):
    """A check for wait_until_sync: the copy's lookup once it holds the vector as of t_ns."""

    def check():
        found = source.lookup(venue, symbol)
        return found if found is not None and found.live.vector.t_ns == t_ns else None

    return check


@pytest.fixture
def namespace():
    return f"test-follower-{uuid.uuid4().hex}"


@pytest.fixture
def started():
    """Actors and sources a test starts, killed and closed after it however it ends."""
    made = {"actors": [], "sources": []}
    yield made
    for source in made["sources"]:
        source.close()
    for actor in made["actors"]:
        ray.kill(actor, no_restart=True)


@pytest.fixture(scope="module")
def events():
    return list(synthetic_events(seed=7, seconds=20))


def test_the_copy_follows_the_actor_ages_when_it_dies_and_takes_its_successor(
    started, namespace, events
):
    half = len(events) // 2
    actors = [start_actor(started, namespace, VENUE, "first", declared=[(VENUE, SOL)])]
    ray.get(actors[0].feed.remote(events[:half]))
    source = follow(started, namespace, venues=(VENUE, LATE))
    # Loaded at start: the fed vectors, and a declared instrument with nothing known yet.
    expected = tracker_of(events[:half])
    for symbol in (BTC, ETH):
        found = source.lookup(VENUE, symbol)
        assert found is not None and found.live.vector == expected.vector(VENUE, symbol)
        assert found.problem is None and found.age_s < 1.0
    sol = source.lookup(VENUE, SOL)
    assert sol.live.ts_recv == 0 and set(sol.live.vector.values.values()) == {None}
    assert source.lookup("nasdaq", BTC) is None  # not a venue of this source
    with pytest.raises(FeatureSourceUnavailable, match="not loaded yet"):
        source.lookup(LATE, BTC)  # a venue of ours whose actor does not exist yet

    # Fed later: the copy catches up.
    ray.get(actors[0].feed.remote(events[half:]))
    expected = tracker_of(events)
    want = expected.vector(VENUE, BTC)
    found = wait_until_sync(
        found_vector(source, VENUE, BTC, want.t_ns), 5, "the copy to take the new events"
    )
    assert found.live.vector == want
    assert found.live.ts_recv == max(e.ts_recv for e in events if e.symbol == BTC)
    assert source.lookup(VENUE, ETH).live.vector == expected.vector(VENUE, ETH)

    # While the actor answers (every wait_s when idle), the copy stays young.
    ages = []
    began = time.monotonic()
    wait_until_sync(
        lambda: ages.append(source.lookup(VENUE, BTC).age_s) or time.monotonic() > began + 1,
        5,
        "a second of lookups",
        every_s=0.05,
    )
    assert len(ages) >= 10 and max(ages) < 1.0, ages

    # The actor dies: a problem, a growing age, the vectors stay.
    ray.kill(actors[0], no_restart=True)
    wait_until_sync(
        lambda: source.lookup(VENUE, BTC).problem is not None, 5, "the follower to notice"
    )
    aged = wait_until_sync(
        lambda: (f := source.lookup(VENUE, BTC)).age_s > 0.5 and f, 5, "the copy to age"
    )
    assert aged.problem is not None and aged.live.vector == want

    # A new incarnation with other instruments replaces the copy of this venue.
    successor = list(synthetic_events(seed=8, seconds=5, symbols=(ETH,)))
    actors.append(start_actor(started, namespace, VENUE, "second"))
    ray.get(actors[1].feed.remote(successor))
    want_eth = tracker_of(successor).vector(VENUE, ETH)
    found = wait_until_sync(
        found_vector(source, VENUE, ETH, want_eth.t_ns), 10, "the copy of the new actor"
    )
    assert found.live.vector == want_eth and found.problem is None and found.age_s < 1.0
    assert source.lookup(VENUE, BTC) is None and source.lookup(VENUE, SOL) is None
    assert source.instruments() == [(VENUE, ETH)]


def test_a_venue_whose_actor_comes_later_is_loaded_then(started, namespace, events):
    btc = [e for e in events if e.symbol == BTC]
    actors = [start_actor(started, namespace, VENUE, "early")]
    source = follow(started, namespace, venues=(VENUE, LATE))
    with pytest.raises(FeatureSourceUnavailable, match="not loaded yet"):
        source.lookup(LATE, BTC)
    # The same market under another venue's name (not installed: a trusting book sync).
    other = [msgspec.structs.replace(e, venue=LATE) for e in btc]
    actors.append(start_actor(started, namespace, LATE, "late"))
    ray.get(actors[1].feed.remote(other))
    want = tracker_of(other).vector(LATE, BTC)
    assert want.values["mid"] is not None

    def loaded():
        with contextlib.suppress(FeatureSourceUnavailable):
            return found_vector(source, LATE, BTC, want.t_ns)()
        return None

    found = wait_until_sync(loaded, 10, "the late actor's vectors")
    assert found.live.vector == want and found.problem is None
    assert source.lookup(VENUE, BTC) is None  # loaded, with no instrument


def test_the_follower_waits_for_long_polls_instead_of_spinning(started, namespace, monkeypatch):
    start_actor(started, namespace, VENUE, "idle")
    calls = []
    real_wait = ray.wait

    def counting_wait(*args, **kwargs):
        calls.append(kwargs.get("timeout"))
        return real_wait(*args, **kwargs)

    follow(started, namespace, venues=(VENUE,))
    monkeypatch.setattr(ray, "wait", counting_wait)
    began = time.monotonic()
    wait_until_sync(lambda: time.monotonic() > began + 1, 5, "a second of following")
    monkeypatch.undo()
    # Nothing is fed: the actor answers every wait_s (0.2 s), about 5 answers a second.
    assert len(calls) < 100, f"{len(calls)} ray.wait calls in 1 s"
