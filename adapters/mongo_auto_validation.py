"""DNS providers (`dns_providers`) and the TXT records placed through them
(`auto_validation_records`); webroots (`webroots`) and the files written in them
(`auto_validation_files`), in MongoDB. A record is written before the update that places
it, with what is needed to delete it (its secret sealed), so the sweep can remove it after
any fault."""

from __future__ import annotations

import secrets
from datetime import datetime

from bson import Binary
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from adapters.mongo import Database
from domain.auto_validation import DnsProvider, DnsProviderStore, PlacedRecord, PlacedRecordStore
from domain.webroots import PlacedFile, PlacedFileStore, Webroot, WebrootStore

PROVIDER_ID_PREFIX = "dnsp_"


async def ensure_auto_validation_indexes(database: Database) -> None:
    await database.db.dns_providers.create_index(
        [("account", ASCENDING), ("zone", ASCENDING)], name="account_zone", unique=True
    )
    await database.db.auto_validation_records.create_index([("nextTryAt", ASCENDING)], name="next_try")


def _provider_from_doc(d: dict) -> DnsProvider:
    return DnsProvider(
        id=d["_id"], account=d["account"], zone=d["zone"], server=d["server"], port=d["port"],
        key_name=d["keyName"], algorithm=d["algorithm"], sealed_secret=bytes(d["sealedSecret"]),
        created_at=d.get("createdAt"), checked_at=d.get("checkedAt"), check_ok=bool(d.get("checkOk")),
        check_error=d.get("checkError"),
    )


class MongoDnsProviderStore(DnsProviderStore):
    def __init__(self, database: Database) -> None:
        self._col = database.db.dns_providers

    def new_id(self) -> str:
        return PROVIDER_ID_PREFIX + secrets.token_hex(12)

    async def save(self, provider: DnsProvider) -> DnsProvider:
        doc = {
            "account": provider.account, "zone": provider.zone, "server": provider.server, "port": provider.port,
            "keyName": provider.key_name, "algorithm": provider.algorithm,
            "sealedSecret": Binary(provider.sealed_secret), "createdAt": provider.created_at,
            "checkedAt": provider.checked_at, "checkOk": provider.check_ok, "checkError": provider.check_error,
        }
        try:
            await self._col.replace_one({"_id": provider.id}, doc, upsert=True)
        except DuplicateKeyError:
            # Two owners configured the same zone at once: the other's configuration stands.
            found = await self._col.find_one({"account": provider.account, "zone": provider.zone})
            if found is None:
                raise
            return _provider_from_doc(found)
        return provider

    async def list(self, account: str) -> list[DnsProvider]:
        docs = await self._col.find({"account": account}).sort("zone", ASCENDING).limit(1000).to_list()
        return [_provider_from_doc(d) for d in docs]

    async def remove(self, account: str, provider_id: str) -> bool:
        return (await self._col.delete_one({"_id": provider_id, "account": account})).deleted_count == 1

    async def record_check(self, provider_id: str, at: datetime, ok: bool, error: str | None) -> None:
        await self._col.update_one({"_id": provider_id}, {"$set": {"checkedAt": at, "checkOk": ok, "checkError": error}})


def _record_from_doc(d: dict) -> PlacedRecord:
    return PlacedRecord(
        id=d["_id"], account=d["account"], name=d["name"], value=d["value"], server=d["server"], port=d["port"],
        zone=d["zone"], key_name=d["keyName"], algorithm=d["algorithm"], sealed_secret=bytes(d["sealedSecret"]),
        created_at=d.get("createdAt"), reissue_id=d.get("reissueId"), provider_id=d.get("providerId"),
        placed=bool(d.get("placed")), failures=int(d.get("failures") or 0), next_try_at=d.get("nextTryAt"),
    )


class MongoPlacedRecordStore(PlacedRecordStore):
    def __init__(self, database: Database) -> None:
        self._col = database.db.auto_validation_records

    async def save(self, record: PlacedRecord) -> None:
        await self._col.replace_one({"_id": record.id}, {
            "account": record.account, "name": record.name, "value": record.value, "server": record.server,
            "port": record.port, "zone": record.zone, "keyName": record.key_name, "algorithm": record.algorithm,
            "sealedSecret": Binary(record.sealed_secret), "createdAt": record.created_at,
            "reissueId": record.reissue_id, "providerId": record.provider_id, "placed": record.placed,
            "failures": record.failures, "nextTryAt": record.next_try_at or record.created_at,
        }, upsert=True)

    async def mark_placed(self, record_id: str) -> None:
        await self._col.update_one({"_id": record_id}, {"$set": {"placed": True}})

    async def get(self, record_id: str) -> PlacedRecord | None:
        doc = await self._col.find_one({"_id": record_id})
        return _record_from_doc(doc) if doc else None

    async def delete(self, record_id: str) -> None:
        await self._col.delete_one({"_id": record_id})

    async def due(self, now: datetime, limit: int = 500) -> list[PlacedRecord]:
        docs = await self._col.find({"nextTryAt": {"$lte": now}}).sort("nextTryAt", ASCENDING).limit(limit).to_list()
        return [_record_from_doc(d) for d in docs]

    async def retry_later(self, record_id: str, failures: int, at: datetime) -> None:
        await self._col.update_one({"_id": record_id}, {"$set": {"failures": failures, "nextTryAt": at}})


# -- webroots (FILE_AUTO) ----------------------------------------------------------------------

WEBROOT_ID_PREFIX = "wr_"


async def ensure_webroot_indexes(database: Database) -> None:
    await database.db.webroots.create_index(
        [("account", ASCENDING), ("domain", ASCENDING)], name="account_domain", unique=True
    )


def _webroot_from_doc(d: dict) -> Webroot:
    return Webroot(
        id=d["_id"], account=d["account"], domain=d["domain"], directory=d["directory"],
        created_at=d.get("createdAt"), checked_at=d.get("checkedAt"), check_ok=bool(d.get("checkOk")),
        check_error=d.get("checkError"),
    )


class MongoWebrootStore(WebrootStore):
    def __init__(self, database: Database) -> None:
        self._col = database.db.webroots

    def new_id(self) -> str:
        return WEBROOT_ID_PREFIX + secrets.token_hex(12)

    async def save(self, webroot: Webroot) -> Webroot:
        doc = {"account": webroot.account, "domain": webroot.domain, "directory": webroot.directory,
               "createdAt": webroot.created_at, "checkedAt": webroot.checked_at, "checkOk": webroot.check_ok,
               "checkError": webroot.check_error}
        try:
            await self._col.replace_one({"_id": webroot.id}, doc, upsert=True)
        except DuplicateKeyError:
            found = await self._col.find_one({"account": webroot.account, "domain": webroot.domain})
            if found is None:
                raise
            return _webroot_from_doc(found)
        return webroot

    async def list(self, account: str) -> list[Webroot]:
        docs = await self._col.find({"account": account}).sort("domain", ASCENDING).limit(1000).to_list()
        return [_webroot_from_doc(d) for d in docs]

    async def remove(self, account: str, webroot_id: str) -> bool:
        return (await self._col.delete_one({"_id": webroot_id, "account": account})).deleted_count == 1

    async def record_check(self, webroot_id: str, at: datetime, ok: bool, error: str | None) -> None:
        await self._col.update_one({"_id": webroot_id}, {"$set": {"checkedAt": at, "checkOk": ok, "checkError": error}})


class MongoPlacedFileStore(PlacedFileStore):
    def __init__(self, database: Database) -> None:
        self._col = database.db.auto_validation_files

    async def save(self, placed: PlacedFile) -> None:
        await self._col.replace_one({"_id": placed.id}, {
            "account": placed.account, "directory": placed.directory, "value": placed.value,
            "createdAt": placed.created_at, "reissueId": placed.reissue_id, "placed": placed.placed,
            "path": placed.path,
        }, upsert=True)

    async def mark_placed(self, placed_id: str) -> None:
        await self._col.update_one({"_id": placed_id}, {"$set": {"placed": True}})

    async def get(self, placed_id: str) -> PlacedFile | None:
        d = await self._col.find_one({"_id": placed_id})
        return _placed_from_doc(d) if d else None

    async def delete(self, placed_id: str) -> None:
        await self._col.delete_one({"_id": placed_id})

    async def all(self, limit: int = 500) -> list[PlacedFile]:
        return [_placed_from_doc(d) for d in await self._col.find({}).limit(limit).to_list()]


def _placed_from_doc(d: dict) -> PlacedFile:
    return PlacedFile(id=d["_id"], account=d["account"], directory=d["directory"], value=d["value"],
                      created_at=d.get("createdAt"), reissue_id=d.get("reissueId"), placed=bool(d.get("placed")),
                      path=d["path"])
