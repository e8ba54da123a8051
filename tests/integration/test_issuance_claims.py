"""R23: the right to sign (or to finalise the CA's order) for a reissue's ISSUED transition
is claimed before anything is signed: a unique key per event slot, in the database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from adapters.mongo_reissues import MongoReissueRepository


async def test_of_many_concurrent_claims_on_one_slot_exactly_one_wins(services):
    repository = MongoReissueRepository(services.database)
    now = services.clock.now()
    reissue_id = repository.new_id()
    won = await asyncio.gather(*(
        repository.claim_issuance(reissue_id, 2, f"holder-{i}", now, now + timedelta(seconds=120)) for i in range(12)
    ))
    assert won.count(True) == 1
    # Another slot of the same reissue is a claim of its own.
    assert await repository.claim_issuance(reissue_id, 3, "other", now, now + timedelta(seconds=120))


async def test_a_claim_whose_holder_died_is_taken_over_and_the_dead_holder_cannot_release_the_new_one(services):
    repository = MongoReissueRepository(services.database)
    now = services.clock.now()
    reissue_id = repository.new_id()
    assert await repository.claim_issuance(reissue_id, 2, "dead", now - timedelta(seconds=300), now - timedelta(seconds=1))
    assert await repository.claim_issuance(reissue_id, 2, "alive", now, now + timedelta(seconds=120))
    await repository.release_issuance(reissue_id, 2, "dead")  # late: releases nothing of the new holder's
    assert not await repository.claim_issuance(reissue_id, 2, "third", now, now + timedelta(seconds=120))
    await repository.release_issuance(reissue_id, 2, "alive")
    assert await repository.claim_issuance(reissue_id, 2, "third", now, now + timedelta(seconds=120))
