"""Checks the reissue invariants (DOMAIN.md R3, R4, R5, R23-R25) against the database itself.

`check_invariants(db)` reads the collections the service writes (certificates, reissues,
reissue_locks, reissue_transitions) and returns one readable line per violation; an empty
list means all is well. It never writes. The tests call it after concurrent and crashed
runs; a soak script can call it while the service runs, which is why states a live
process passes through for a moment (a lock not yet joined by its reissue, an issuance
not yet applied) count only once they are older than `grace_seconds`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from domain.reissues import ACTIVE_STATUSES, ReissueStatus
from domain.rules import is_valid_history

ACTIVE = sorted(s.value for s in ACTIVE_STATUSES)
ISSUED = ReissueStatus.ISSUED.value


def _utc(moment: datetime | None) -> datetime | None:
    """Dates from a client without tz_aware come back naive: they are UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


async def check_invariants(
    db,
    *,
    grace_seconds: float = 30,
    now: datetime | None = None,
    accounts: Iterable[str] | None = None,
    confirm: bool = True,
) -> list[str]:
    """`db`: a PyMongo AsyncDatabase. `now`: the time to judge leases and lifetimes by
    (default: the system clock; pass the service's clock when it is not that).
    `accounts`: look only at these accounts' data (default: the whole database).

    The collections are read one after the other, not as one snapshot, so while the
    service runs a state change between two reads can look like a violation. With
    `confirm`, a violation counts only if a second, later check finds it again."""
    found = await _check_once(db, grace_seconds=grace_seconds, now=now, accounts=accounts)
    if not found or not confirm:
        return found
    await asyncio.sleep(0.5)
    again = set(await _check_once(db, grace_seconds=grace_seconds, now=now, accounts=accounts))
    return [v for v in found if v in again]


async def _check_once(
    db,
    *,
    grace_seconds: float = 30,
    now: datetime | None = None,
    accounts: Iterable[str] | None = None,
) -> list[str]:
    """`db`: a PyMongo AsyncDatabase. `now`: the time to judge leases and lifetimes by
    (default: the system clock; pass the service's clock when it is not that).
    `accounts`: look only at these accounts' data (default: the whole database)."""
    now = _utc(now) or datetime.now(UTC)
    grace = timedelta(seconds=grace_seconds)
    scope = None if accounts is None else sorted(set(accounts))
    by_account = {} if scope is None else {"account": {"$in": scope}}

    reissues = await db.reissues.find(by_account).to_list()
    certificates = await db.certificates.find(by_account).to_list()
    reissue_by_id = {r["_id"]: r for r in reissues}
    certificate_by_id = {c["_id"]: c for c in certificates}
    locks = await _locks_in_scope(db, scope, reissue_by_id, certificate_by_id)

    violations: list[str] = []
    violations += _one_active_reissue(reissues)
    violations += _locks_have_live_holders(locks, reissue_by_id, now, grace)
    violations += _live_reissues_hold_their_locks(reissues, locks, now)
    violations += _issuances_applied(certificates, reissues, now, grace)
    violations += _not_after_kept(certificates)
    violations += _histories_valid(reissues)
    violations += await _transitions_applied(db, reissue_by_id, scope, now, grace)
    return violations


async def _locks_in_scope(db, scope, reissue_by_id: dict, certificate_by_id: dict) -> list[dict]:
    locks = await db.reissue_locks.find({}).to_list()
    if scope is None:
        return locks
    return [lock for lock in locks if _lock_account(lock, reissue_by_id, certificate_by_id) in scope]


def _lock_account(lock: dict, reissue_by_id: dict, certificate_by_id: dict) -> str | None:
    """The account a lock belongs to: its reissue's, else its certificate's (an orphan
    lock), else the one named in a primary-domain key ("primary:<account>:<domain>")."""
    if lock.get("reissueId") in reissue_by_id:
        return reissue_by_id[lock["reissueId"]]["account"]
    if lock.get("certificateId") in certificate_by_id:
        return certificate_by_id[lock["certificateId"]]["account"]
    key = lock.get("key", "")
    if key.startswith("primary:"):
        return key.split(":")[1]
    return None


def _is_live(reissue: dict | None, now: datetime) -> bool:
    """domain.rules.lock_is_live for a reissue document."""
    return reissue is not None and reissue["status"] in ACTIVE and _utc(reissue["expiresAt"]) > now


# -- R3, R4: one reissue at a time --------------------------------------------------------


def _one_active_reissue(reissues: list[dict]) -> list[str]:
    per_domain: dict[tuple[str, str], list[str]] = defaultdict(list)
    per_certificate: dict[str, list[str]] = defaultdict(list)
    for r in reissues:
        if r["status"] in ACTIVE:
            per_domain[(r["account"], r["primaryDomain"])].append(r["_id"])
            per_certificate[r["certificateId"]].append(r["_id"])
    found = [
        f"R3: account {account} has {len(ids)} active reissues under primary domain {domain}: {sorted(ids)}"
        for (account, domain), ids in per_domain.items()
        if len(ids) > 1
    ]
    found += [
        f"R4: certificate {cid} has {len(ids)} active reissues: {sorted(ids)}"
        for cid, ids in per_certificate.items()
        if len(ids) > 1
    ]
    return found


def _locks_have_live_holders(locks: list[dict], reissue_by_id: dict, now: datetime, grace: timedelta) -> list[str]:
    found = []
    for lock in locks:
        pending_until = _utc(lock["pendingUntil"])
        if pending_until > now:
            continue  # R24: its reissue may still be on the way
        holder = reissue_by_id.get(lock.get("reissueId"))
        if holder is None:
            found.append(
                f"R24: lock {lock['_id']} ({lock['key']}) is held for reissue {lock.get('reissueId')!r}, "
                f"which does not exist, and its grace ended at {pending_until.isoformat()}"
            )
            continue
        if _is_live(holder, now):
            continue
        if holder["status"] == ISSUED and not holder.get("applied"):
            continue  # its issuance is being applied; _issuances_applied reports it once stale
        # The locks go right after the reissue ends (or, overdue, once it is expired).
        if holder["status"] in ACTIVE:
            ended = _utc(holder["expiresAt"])
        else:
            ended = _utc(holder.get("completedAt") or holder["updatedAt"])
        if now - ended <= grace:
            continue
        state = f"overdue since {ended.isoformat()}" if holder["status"] in ACTIVE else f"ended at {ended.isoformat()}"
        found.append(
            f"R24: lock {lock['_id']} ({lock['key']}) is still held by reissue {holder['_id']}, "
            f"which is {holder['status']} ({state})"
        )
    return found


def _live_reissues_hold_their_locks(reissues: list[dict], locks: list[dict], now: datetime) -> list[str]:
    lock_by_id = {lock["_id"]: lock for lock in locks}
    found = []
    for r in reissues:
        if not _is_live(r, now):
            continue
        expected = {
            f"{r['_id']}:certificate": f"certificate:{r['certificateId']}",
            f"{r['_id']}:primary": f"primary:{r['account']}:{r['primaryDomain']}",
        }
        for lock_id, key in expected.items():
            lock = lock_by_id.get(lock_id)
            if lock is None:
                found.append(f"R3/R4: live reissue {r['_id']} ({r['status']}) does not hold its lock {lock_id}")
            elif lock["key"] != key:
                found.append(f"R3/R4: lock {lock_id} of reissue {r['_id']} has key {lock['key']!r}, not {key!r}")
    return found


# -- R23, R5: issuance ---------------------------------------------------------------------


def _issuances_applied(certificates: list[dict], reissues: list[dict], now: datetime, grace: timedelta) -> list[str]:
    applied: dict[str, list[dict]] = defaultdict(list)
    in_flight: dict[str, list[dict]] = defaultdict(list)
    found = []
    for r in reissues:
        if r["status"] != ISSUED:
            continue
        if r.get("applied"):
            applied[r["certificateId"]].append(r)
            continue
        issued_at = _utc(r.get("completedAt") or r["updatedAt"])
        if now - issued_at > grace:
            found.append(
                f"R23: reissue {r['_id']} was issued at {issued_at.isoformat()} and is still not applied "
                f"(its certificate {r['certificateId']} may lack the new version, its locks may be held)"
            )
        in_flight[r["certificateId"]].append(r)

    for c in certificates:
        cid, count = c["_id"], int(c.get("reissueCount") or 0)
        done, pending = applied[cid], in_flight[cid]
        # An issuance in flight may have updated the certificate already, or not yet.
        if not len(done) <= count <= len(done) + len(pending):
            found.append(
                f"R23: certificate {cid} has reissueCount {count}, but {len(done)} applied issued reissue(s)"
                + (f" and {len(pending)} in flight" if pending else "")
            )
        versions = c.get("versions") or []
        if len(versions) != count + 1:
            found.append(
                f"R23: certificate {cid} has {len(versions)} versions for reissueCount {count} "
                f"(expected {count + 1}: the first one and one per reissue)"
            )
        serials = [v["serialNumber"] for v in versions]
        repeated = sorted({s for s in serials if serials.count(s) > 1})
        if repeated:
            found.append(f"R23: certificate {cid} holds the same version more than once: {repeated}")
        for r in done:
            version = r.get("issuedVersion") or {}
            if version.get("serialNumber") not in serials:
                found.append(
                    f"R23: reissue {r['_id']} is applied, but its certificate {cid} lacks the version it "
                    f"issued (serial {version.get('serialNumber')})"
                )
        if versions and c.get("serialNumber") != versions[0]["serialNumber"]:
            found.append(f"certificate {cid}: top-level serialNumber is not the current version's")
        if c.get("isFree") and count > 1:
            found.append(f"R2: free DV certificate {cid} was reissued {count} times (at most once)")
    return found


def _not_after_kept(certificates: list[dict]) -> list[str]:
    found = []
    for c in certificates:
        versions = c.get("versions") or []
        if not versions:
            found.append(f"certificate {c['_id']} has no version")
            continue
        first = _utc(versions[-1]["notAfter"]).replace(microsecond=0)  # the first uploaded
        for v in versions[:-1]:
            if _utc(v["notAfter"]).replace(microsecond=0) != first:
                found.append(
                    f"R5: certificate {c['_id']} version {v['serialNumber']} has notAfter "
                    f"{_utc(v['notAfter']).isoformat()}, not the original {first.isoformat()}"
                )
        if _utc(c["notAfter"]).replace(microsecond=0) != _utc(versions[0]["notAfter"]).replace(microsecond=0):
            found.append(f"certificate {c['_id']}: top-level notAfter is not the current version's")
    return found


# -- R25: histories --------------------------------------------------------------------------


def _histories_valid(reissues: list[dict]) -> list[str]:
    found = []
    for r in reissues:
        events = r.get("events") or []
        path = [e["to"] for e in events]
        try:
            valid = is_valid_history([ReissueStatus(s) for s in path])
        except ValueError:
            valid = False
        if not valid:
            found.append(f"R25: reissue {r['_id']} has an impossible history: {' -> '.join(path) or '(none)'}")
            continue
        froms = [e.get("from") for e in events]
        if froms != [None, *path[:-1]]:
            found.append(f"R25: reissue {r['_id']}: an event's `from` is not the previous event's `to`")
        if r["status"] != path[-1]:
            found.append(f"R25: reissue {r['_id']} is {r['status']}, but its last event says {path[-1]}")
        if r.get("seq") != len(events):
            found.append(f"R25: reissue {r['_id']} has seq {r.get('seq')} for {len(events)} events")
    return found


async def _transitions_applied(db, reissue_by_id: dict, scope, now: datetime, grace: timedelta) -> list[str]:
    """A claimed event slot is applied at once by its claimant, else by the sweep."""
    query: dict = {"applied": False}
    if scope is not None:
        query["reissueId"] = {"$in": list(reissue_by_id)}
    found = []
    for claim in await db.reissue_transitions.find(query).to_list():
        claimed_at = _utc(claim["doc"]["updatedAt"])
        if now - claimed_at > grace:
            found.append(
                f"R25: event {claim['seq']} of reissue {claim['reissueId']} "
                f"({claim['doc']['status']}) was claimed at {claimed_at.isoformat()} but never applied"
            )
    return found
