"""The change feed behind subscriptions (domain.ports.ChangeFeed), over MongoDB.

One source per API process, however many subscribers it has, fanned out by topic (a
reissue, a certificate, an account's primary domain) to each subscriber's ChangeWatch, a
flag that coalesces: a subscriber that is slow to send (a client that does not read) holds
one pending wake-up, never a queue of changes. Each subscriber then reads the current
state itself, so a message is always a full snapshot and nothing is lost by coalescing.

Sources (CERTS_CHANGE_FEED):

* `change-stream`: one database-level change stream (`db.watch`) on `reissues` and
  `certificates`, with the few fields needed to route an event (`updateLookup`, projected),
  open while the process has subscribers (closed 30 s after the last one leaves, so a
  process nobody subscribes to sends no command for it). A change made by any process
  reaches every process that watches. After an error (the
  database went away) it is opened again after a back-off, from its resume token, and every
  subscriber reads again once it is open (what it missed, and a read that failed meanwhile);
  when the server no longer knows the token, it starts afresh and everyone reads again.
* `poll`: every CERTS_CHANGE_POLL_SECONDS, and only while someone watches, one query per
  collection for the watched IDs (and the active reissues under watched primary domains),
  compared with the previous answer by a digest of each document. Made for FerretDB 1.24,
  which has no change streams.
* `auto` (the default): the change stream, unless the server refuses to open one (an
  OperationFailure, as FerretDB answers), then polling for the life of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Iterable, Sequence

import bson
from pymongo.errors import ExecutionTimeout, OperationFailure, PyMongoError

from adapters.mongo import Database
from adapters.mongo_reissues import ACTIVE
from domain.ports import ChangeFeed, ChangeWatch, Topic, certificate_topic, domain_topic, reissue_topic

log = logging.getLogger("certreissue.changes")

CHANGE_FEEDS = ("auto", "change-stream", "poll")
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 5.0
IDLE_SECONDS = 30.0  # a change stream nobody has watched for this long is closed
WATCHED_COLLECTIONS = ("reissues", "certificates")
# Only what routes an event travels: the changed document's ID, and for a reissue its
# certificate, account and primary domain (a whole reissue carries CSRs and events). The
# $match on the collection comes first: MongoDB (5.1+) applies it to the oplog, so the
# post-image of an update (`updateLookup`) is looked up for these two collections only.
PIPELINE = [
    {"$match": {"ns.coll": {"$in": list(WATCHED_COLLECTIONS)}}},
    {"$project": {
        "operationType": 1, "ns": 1, "documentKey": 1,
        "fullDocument.certificateId": 1, "fullDocument.account": 1, "fullDocument.primaryDomain": 1,
    }},
]


class _Watch(ChangeWatch):
    def __init__(self, hub: ChangeHub) -> None:
        self._hub = hub
        self._event = asyncio.Event()
        self.topics: frozenset[Topic] = frozenset()
        self.closed = False

    def notify(self) -> None:
        self._event.set()

    async def wait(self, timeout: float | None = None) -> bool:
        if not self._event.is_set():
            try:
                async with asyncio.timeout(timeout):
                    await self._event.wait()
            except TimeoutError:
                return False
        self._event.clear()
        return True

    def retopic(self, topics: Sequence[Topic]) -> None:
        """A topic added wakes the watch: it may have changed before it was watched."""
        if not self.closed and self._hub.retopic(self, frozenset(topics)):
            self.notify()

    def close(self) -> None:
        if not self.closed:
            self._hub.retopic(self, frozenset())
            self.closed = True


class ChangeHub:
    """Subscribers by topic, in one process; no I/O."""

    def __init__(self) -> None:
        self._watchers: dict[Topic, set[_Watch]] = {}
        self.watched = asyncio.Event()  # set while anyone watches anything

    def watch(self, topics: Iterable[Topic]) -> _Watch:
        watch = _Watch(self)
        self.retopic(watch, frozenset(topics))
        return watch

    def retopic(self, watch: _Watch, topics: frozenset[Topic]) -> bool:
        """Moves `watch` to `topics`; whether any topic was added."""
        for topic in watch.topics - topics:
            watchers = self._watchers.get(topic)
            if watchers is not None:
                watchers.discard(watch)
                if not watchers:
                    del self._watchers[topic]
        added = topics - watch.topics
        for topic in added:
            self._watchers.setdefault(topic, set()).add(watch)
        watch.topics = topics
        if self._watchers:
            self.watched.set()
        else:
            self.watched.clear()
        return bool(added)

    def publish(self, topics: Iterable[Topic]) -> None:
        for topic in topics:
            for watch in self._watchers.get(topic, ()):
                watch.notify()

    def resync(self) -> None:
        """Every subscriber reads again (the feed may have missed something)."""
        for watchers in list(self._watchers.values()):
            for watch in watchers:
                watch.notify()

    def topics(self) -> list[Topic]:
        return list(self._watchers)

    @property
    def watchers(self) -> int:
        return len({w for watchers in self._watchers.values() for w in watchers})


def reissue_topics(reissue_id: str, doc: dict | None) -> list[Topic]:
    """Who hears of a change to a reissue: its own subscribers, its certificate's, and the
    certificates under its account's primary domain (R3: their eligibility)."""
    topics = [reissue_topic(reissue_id)]
    if doc:
        if doc.get("certificateId"):
            topics.append(certificate_topic(doc["certificateId"]))
        if doc.get("account") and doc.get("primaryDomain"):
            topics.append(domain_topic(doc["account"], doc["primaryDomain"]))
    return topics


def topics_of_change(change: dict) -> list[Topic]:
    collection = (change.get("ns") or {}).get("coll")
    key = (change.get("documentKey") or {}).get("_id")
    if key is None:
        return []
    if collection == "certificates":
        return [certificate_topic(key)]
    if collection == "reissues":
        return reissue_topics(key, change.get("fullDocument"))
    return []


def _digest(doc: dict) -> bytes:
    return hashlib.blake2b(bson.encode(doc), digest_size=16).digest()


def _refuses_change_streams(error: PyMongoError) -> bool:
    """The server answered, and said no (FerretDB: NotImplemented, FailedToParse), as
    opposed to not answering."""
    return isinstance(error, OperationFailure) and not isinstance(error, ExecutionTimeout)


class MongoChangeFeed(ChangeFeed):
    """One per process (certreissue/bootstrap.py); `start` from the app's lifespan."""

    def __init__(self, database: Database, *, mode: str = "auto", poll_seconds: float = 1.0) -> None:
        if mode not in CHANGE_FEEDS:
            raise ValueError(f"change feed must be one of {', '.join(CHANGE_FEEDS)}, not {mode!r}")
        self._db = database.db
        self.hub = ChangeHub()
        self.mode = mode
        self.poll_seconds = poll_seconds
        self.source = "none"  # what runs: "change-stream" or "poll" (logs, tests, the bench)
        self._task: asyncio.Task | None = None

    def watch(self, topics: Sequence[Topic]) -> ChangeWatch:
        return self.hub.watch(topics)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="change-feed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        try:
            if self.mode != "poll" and not await self._stream():
                return
            await self._poll()
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug: say so, and let subscribers get nothing rather than crash the app
            log.exception("the change feed stopped")
            raise

    # -- change stream ------------------------------------------------------------------

    async def _stream(self) -> bool:
        """Runs the change stream while anyone watches; True when the server refused to open
        one and the mode allows polling instead."""
        token = None
        delay = RETRY_FIRST_SECONDS
        opened = False
        failing = False
        while True:
            await self.hub.watched.wait()
            try:
                async with await self._db.watch(
                    PIPELINE, full_document="updateLookup", start_after=token, max_await_time_ms=1000
                ) as stream:
                    self.source = "change-stream"
                    if not opened:
                        log.info("change feed: a change stream on %s", ", ".join(WATCHED_COLLECTIONS))
                    elif failing:
                        log.info("change feed: the change stream is open again")
                    opened, failing, delay = True, False, RETRY_FIRST_SECONDS
                    self.hub.resync()  # whatever happened while it was not open
                    idle_since = None
                    while stream.alive:
                        change = await stream.try_next()
                        token = stream.resume_token
                        if change is not None:
                            self.hub.publish(topics_of_change(change))
                        if self.hub.watched.is_set():
                            idle_since = None
                        else:
                            idle_since = idle_since or time.monotonic()
                            if time.monotonic() - idle_since >= IDLE_SECONDS:
                                break  # nobody watches: no stream (it resyncs its readers when it opens again)
                    # Closed for want of watchers: the next one starts afresh. Invalidated (the
                    # database was dropped): it starts after the invalidation.
                    token = stream.resume_token if not stream.alive else None
            except PyMongoError as error:
                if _refuses_change_streams(error):
                    if not opened and self.mode == "auto":
                        log.warning(
                            "change feed: the database does not open change streams (%s); polling every %g s instead",
                            getattr(error, "code", None), self.poll_seconds,
                        )
                        return True
                    token = None  # e.g. its history no longer holds the token: start afresh
                if not failing:
                    log.warning("change feed: the change stream failed (%s); opening it again", type(error).__name__)
                    failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    # -- polling ------------------------------------------------------------------------

    async def _poll(self) -> None:
        self.source = "poll"
        log.info("change feed: polling every %g s for the watched documents", self.poll_seconds)
        certificates: dict[str, bytes] = {}
        reissues: dict[str, tuple[bytes, tuple[Topic, ...]]] = {}
        failing = False
        while True:
            if not self.hub.watched.is_set():
                certificates, reissues = {}, {}
                await self.hub.watched.wait()
            await asyncio.sleep(self.poll_seconds)
            topics = self.hub.topics()
            try:
                certificates, reissues, changed = await self.poll_once(topics, certificates, reissues)
            except PyMongoError as error:
                if not failing:
                    log.warning("change feed: polling failed (%s); trying again", type(error).__name__)
                    failing = True
                continue
            if failing:
                log.info("change feed: polling works again")
                failing = False
                self.hub.resync()
            self.hub.publish(changed)

    async def poll_once(
        self,
        topics: Iterable[Topic],
        certificates: dict[str, bytes],
        reissues: dict[str, tuple[bytes, tuple[Topic, ...]]],
    ) -> tuple[dict, dict, set[Topic]]:
        """One poll: the documents watched now, by digest, and the topics that changed since
        `certificates` and `reissues` (the previous poll's). A document seen for the first
        time counts as changed: it may have changed before this poll knew of it."""
        certificate_ids, reissue_ids, domains = set(), set(), {}
        for topic in topics:
            if topic[0] == "certificate":
                certificate_ids.add(topic[1])
            elif topic[0] == "reissue":
                reissue_ids.add(topic[1])
            elif topic[0] == "domain":
                domains.setdefault(topic[1], set()).add(topic[2])
        changed: set[Topic] = set()

        seen_certificates: dict[str, bytes] = {}
        if certificate_ids:
            for doc in await self._db.certificates.find({"_id": {"$in": sorted(certificate_ids)}}).to_list():
                seen_certificates[doc["_id"]] = _digest(doc)
        for cid in set(seen_certificates) | (set(certificates) & certificate_ids):
            if certificates.get(cid) != seen_certificates.get(cid):
                changed.add(certificate_topic(cid))

        clauses: list[dict] = []
        if reissue_ids:
            clauses.append({"_id": {"$in": sorted(reissue_ids)}})
        for account, primary_domains in sorted(domains.items()):
            clauses.append({"account": account, "primaryDomain": {"$in": sorted(primary_domains)}, "status": {"$in": ACTIVE}})
        seen_reissues: dict[str, tuple[bytes, tuple[Topic, ...]]] = {}
        if clauses:
            query = clauses[0] if len(clauses) == 1 else {"$or": clauses}
            for doc in await self._db.reissues.find(query).to_list():
                seen_reissues[doc["_id"]] = (_digest(doc), tuple(reissue_topics(doc["_id"], doc)))
        for rid in set(seen_reissues) | set(reissues):
            before, now = reissues.get(rid), seen_reissues.get(rid)
            if (before or (None,))[0] != (now or (None,))[0]:
                # Appeared, changed, or left the answer (no longer active under a watched
                # primary domain, or no longer watched): its subscribers read again.
                changed.update(now[1] if now else ())
                changed.update(before[1] if before else ())
        return seen_certificates, seen_reissues, changed
