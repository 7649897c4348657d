"""Live features (BookActor) equal features replayed from the store, exactly, and the prediction
API's ActorFeatureSource finds the BookActors by name."""

from __future__ import annotations

import asyncio

import ray

from actors.books import BOOKS_ACTOR_TEMPLATE
from chaos.harness import LiveSystem, SystemConfig, storing_more_than, wait_until
from mdc.features import FeatureConfig, FeatureTracker
from mdc.store import Store
from serve.features_source import ActorFeatureSource

POINT_IN_TIME = ("mid", "spread_abs", "spread_bps", "l1_imbalance", "weighted_mid")


async def _live_vectors(system: LiveSystem) -> dict:
    """Stop the providers first (they flush every batch to their BookActor), then read the
    BookActors' features just before the disconnect gap of that stop (after it the book is
    down: every point-in-time feature is null), before the system stop kills the actors."""
    supervisor = system.supervisor
    source = await asyncio.to_thread(ActorFeatureSource, BOOKS_ACTOR_TEMPLATE, system.namespace)
    try:
        instruments = source.instruments()
        assert sorted({venue for venue, _ in instruments}) == sorted(system.config.venues)
        venue, symbol = instruments[0]
        found = source.lookup(venue, symbol)
        assert (found.live.vector.venue, found.live.vector.symbol) == (venue, symbol)
        assert found.age_s < 2.0 and found.problem is None
        assert source.lookup("nasdaq", symbol) is None
    finally:
        source.close()
    providers = [c for c in supervisor.children.values() if c.kind == "provider"]
    await asyncio.gather(*(asyncio.wrap_future(c.handle.stop.remote().future()) for c in providers))
    with Store.open(str(system.config.data_dir), readonly=True) as store:
        stopped = {e.venue: e.ts_event for e in store.iter_events(types=["gap"]) if not e.symbol}
    vectors = {}
    for venue in system.config.venues:
        books = ray.get_actor(BOOKS_ACTOR_TEMPLATE.format(venue=venue), namespace=system.namespace)
        for instrument in await asyncio.wrap_future(books.feature_instruments.remote().future()):
            ref = books.feature_vector.remote(*instrument, stopped[venue] - 1)
            vectors[tuple(instrument)] = await asyncio.wrap_future(ref.future())
    return vectors


def test_live_features_equal_replayed_features(tmp_path, ray_runtime):
    async def scenario() -> dict:
        config = SystemConfig(("binance", "kraken"), tmp_path, seed=11)
        async with LiveSystem(config) as system:
            await wait_until(storing_more_than(system.supervisor, 1500), 60, "events stored")
            return await _live_vectors(system)

    live = asyncio.run(scenario())
    replayed = FeatureTracker(FeatureConfig.default())
    with Store.open(str(tmp_path), readonly=True) as store:
        for event in store.iter_events():
            replayed.on_event(event)
    assert len(live) >= 4
    for (venue, symbol), vector in live.items():
        assert vector is not None
        again = replayed.vector(venue, symbol, vector.t_ns)
        assert again is not None and again.t_ns == vector.t_ns
        assert again.values == vector.values, (venue, symbol)
    # A short run is all warm-up for the windows (null by the spec); the book features are known,
    # except for a book caught resyncing at that instant (null live and replayed alike, as above).
    known = [v for v in live.values() if all(v.values[n] is not None for n in POINT_IN_TIME)]
    assert len(known) >= len(live) - 1, live
