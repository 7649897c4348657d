"""The one-process pipeline keeps a batch the store refuses and retries it (the one backoff
policy) until the store takes it: nothing dropped, every refusal counted."""

from __future__ import annotations

import asyncio
import errno
import random

from actors.local import LocalPipeline
from actors.waiting import wait_until
from mdc.store import FaultyFS, Store
from mdc.store.synth import trades


def test_a_refused_append_is_retried_until_the_store_takes_it(tmp_path):
    fs = FaultyFS()
    batch = trades(random.Random(2), 50)

    async def main() -> LocalPipeline:
        with Store.open(str(tmp_path), fs=fs) as store:
            pipeline = LocalPipeline([], store)
            fs.fail("fsync", errno.ENOSPC)
            appending = asyncio.create_task(pipeline._append_until_stored(batch))

            async def refused_twice() -> bool:
                return pipeline.stats.storage_errors >= 2

            await wait_until(refused_twice, 10, "two refused appends", every_s=0.01)
            fs.heal()
            await asyncio.wait_for(appending, 10)
        return pipeline

    pipeline = asyncio.run(main())
    assert pipeline.stats.stored == 50 and pipeline.stats.commits == 1
    assert "ENOSPC" in pipeline.stats.last_storage_error
    with Store.open(str(tmp_path)) as store:
        assert list(store.iter_events()) == batch
