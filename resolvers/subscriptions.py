"""Subscriptions: an object as it is now, then again each time it changes.

Each read is the query's own use case with the subscriber's caller, so a subscription sees
exactly what `reissue(id)` / `certificate(id)` would (R26: another account's object does
not exist, NOT_FOUND as for a missing one; staff read any one by its ID). The watch is
registered before the first read, so a change made between the two is not missed: at worst
it is read twice (and the transport does not send a message that equals the previous one).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from domain.errors import NotFound
from domain.model import Certificate
from domain.ports import ChangeWatch, Topic, certificate_topic, domain_topic, reissue_topic
from domain.reissues import Reissue
from domain.text import shown
from resolvers.context import Context

log = logging.getLogger("certreissue.subscriptions")

T = TypeVar("T")
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 5.0


class Updates(Generic[T]):
    """An async iterator of one object's state: the first read, then one read each time its
    ChangeWatch wakes (however many changes woke it). A read the database cannot answer is
    tried again, with a back-off, until it can: the subscriber stays and resyncs when the
    database returns. It ends when the object can no longer be read; `aclose()` (called by
    the GraphQL layer when the subscriber leaves) stops watching."""

    def __init__(
        self,
        watch: ChangeWatch,
        first: T,
        read: Callable[[], Awaitable[T | None]],
        topics_of: Callable[[T], Sequence[Topic]],
        unavailable: Callable[[BaseException], bool],
    ) -> None:
        self._watch = watch
        self._first: T | None = first
        self._read = read
        self._topics_of = topics_of
        self._unavailable = unavailable
        self._convert: Callable[[T], object] = lambda value: value
        self._retry_in: float | None = None
        self._retries = 0
        watch.retopic(topics_of(first))

    def map(self, convert: Callable[[T], object]) -> Updates[T]:
        self._convert = convert
        return self

    def __aiter__(self) -> Updates[T]:
        return self

    async def __anext__(self) -> object:
        if self._first is not None:
            value, self._first = self._first, None
            return self._convert(value)
        if self._retry_in is None:
            self._retries = 0
        while True:
            await self._watch.wait(timeout=self._retry_in)
            self._retry_in = None
            value = await self._read_when_possible()
            if value is None:
                await self.aclose()
                raise StopAsyncIteration
            self._watch.retopic(self._topics_of(value))
            return self._convert(value)

    def read_again_later(self) -> None:
        """The last value could not be shown whole (a nested read found the database away):
        read again after a back-off, or sooner when something changes."""
        self._retries += 1
        self._retry_in = min(RETRY_FIRST_SECONDS * 2 ** (self._retries - 1), RETRY_MAX_SECONDS)

    async def _read_when_possible(self) -> T | None:
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                return await self._read()
            except Exception as error:
                if not self._unavailable(error):
                    raise
                # Once per outage per subscriber at info (an outage is logged by the feed too).
                log.log(logging.INFO if delay == RETRY_FIRST_SECONDS else logging.DEBUG,
                        "subscription: the database is unavailable; reading again in %g s", delay)
                await self._watch.wait(timeout=delay)  # or sooner, when the feed resyncs
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    async def aclose(self) -> None:
        self._first = None
        self._watch.close()


def _reissue_topics(reissue: Reissue) -> list[Topic]:
    # Its certificate too: `reissue { certificate { ... } }` is part of what a subscriber sees.
    return [reissue_topic(reissue.id), certificate_topic(reissue.certificate_id)]


def _certificate_topics(certificate: Certificate) -> list[Topic]:
    # Its primary domain's reissues decide its status and eligibility (R3, R4).
    return [certificate_topic(certificate.id), domain_topic(certificate.account, certificate.primary_domain)]


async def _updates(ctx: Context, topic: Topic, read, topics_of) -> Updates:
    watch = ctx.services.changes.watch([topic])
    try:
        first = await read()
    except BaseException:
        watch.close()
        raise

    async def read_again():
        ctx.forget_loaded()  # nested fields read afresh too
        try:
            return await read()
        except NotFound:
            return None  # gone, or no longer the caller's: the subscription ends

    ctx.updates = Updates(watch, first, read_again, topics_of, ctx.services.database_unavailable)
    return ctx.updates


async def reissue_updates(ctx: Context, reissue_id: str) -> Updates[Reissue]:
    """R26: NOT_FOUND for a reissue that does not exist or is another account's."""

    async def read() -> Reissue:
        found = await ctx.services.reissues.get(ctx.caller, reissue_id)
        if found is None:
            raise NotFound(f"no reissue {shown(reissue_id)}", field=["reissueId"])
        return found

    return await _updates(ctx, reissue_topic(reissue_id), read, _reissue_topics)


async def certificate_updates(ctx: Context, certificate_id: str) -> Updates[Certificate]:
    """R26: NOT_FOUND for a certificate that does not exist or is another account's."""

    async def read() -> Certificate:
        return await ctx.services.certificates.require(ctx.caller, certificate_id, ["id"])

    return await _updates(ctx, certificate_topic(certificate_id), read, _certificate_topics)
