"""The write port of each system: one shape for creates and field-level updates, whatever the API.

`RecordWriter.write(entity, writes, on_batch)` applies `RecordWrite`s and reports one
`WriteOutcome` per write, batch by batch, so the caller can persist progress as it goes;
`RecordWriter.changed_since(entity, since)` re-reads, in one request for the usual handful, the
records changed since a moment, with their modification times (`ChangedRecords`), so a write never
overwrites an edit made after our read:

- `WebcrmWriter`: the bulk `PATCH /{entity}` (inserts without `<X>Id`, updates with it), one
  batch per chunk of up to 500 items; an empty value is sent as `""` (vendor spec: PATCH changes
  the properties it carries).
- `CrmofficeWriter`: `POST` / `PATCH /{entity}/{id}`, one request per record with bounded
  concurrency, one batch per record; an empty value is sent as `null` (DESIGN.md section 5).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from sync_pipeline.clients.crmoffice import CrmofficeClient, WriteOp, WriteResult
from sync_pipeline.clients.webcrm import ItemResult, WebcrmClient
from sync_pipeline.core.known_fields import webcrm_dto
from sync_pipeline.core.systems import EntitySpec

# WebCRM answers a bulk-PATCH item whose id is gone with "<Entity> with id N was not found."
_WEBCRM_NOT_FOUND = "not found"


@dataclass(frozen=True)
class RecordWrite:
    """A create (`record_id` None) or an update of `record_id`: API property -> text ("" empty)."""

    kind: Literal["create", "update"]
    values: Mapping[str, str]
    record_id: str | None = None


@dataclass(frozen=True)
class WriteOutcome:
    """What became of one write.

    `ok` with the record's id; else `error`, and why: `refused` (the API answered and wrote
    nothing), `not_found` (the record to update is gone), or neither (unavailable, or the
    outcome is unknown: the write may have landed).
    """

    ok: bool
    record_id: str | None = None
    error: str = ""
    refused: bool = False
    not_found: bool = False


@dataclass(frozen=True)
class ChangedRecords:
    """What a re-read found, by record id (text): its modification time (None when unreadable:
    the caller treats the record as changed) and the record as the API answered it."""

    stamps: dict[str, datetime | None]
    records: dict[str, Mapping[str, Any]]


OnBatch = Callable[[int, list[WriteOutcome]], None]
BeforeBatch = Callable[[], None]


class RecordWriter(Protocol):
    """Applies writes to one system; `on_batch(offset, outcomes)` after each batch, and
    `before_batch()` (if given) right before each batch's request: an exception from either
    stops the writes not yet sent and is raised."""

    system: str

    def write(
        self,
        entity: str,
        writes: Sequence[RecordWrite],
        on_batch: OnBatch,
        before_batch: BeforeBatch | None = None,
    ) -> None: ...

    def changed_since(self, entity: str, since: datetime) -> ChangedRecords: ...

    def entity_spec(self, entity: str) -> EntitySpec: ...

    def counters(self) -> dict[str, int]: ...


def _modified(
    records: Iterable[Mapping[str, Any]], id_property: str, updated_property: str
) -> ChangedRecords:
    """The records by id, with their modification times (None when unreadable)."""
    stamps: dict[str, datetime | None] = {}
    found: dict[str, Mapping[str, Any]] = {}
    for record in records:
        record_id = str(record.get(id_property))
        found[record_id] = record
        try:
            stamps[record_id] = datetime.fromisoformat(str(record.get(updated_property)))
        except ValueError:
            stamps[record_id] = None
    return ChangedRecords(stamps, found)


class WebcrmWriter:
    """WebCRM writes through the bulk PATCH, naming a record to update by its `<X>Id`."""

    system = "webcrm"

    def __init__(self, client: WebcrmClient) -> None:
        self._client = client

    def counters(self) -> dict[str, int]:
        """The client's request counters."""
        return self._client.stats.as_dict()

    def write(
        self,
        entity: str,
        writes: Sequence[RecordWrite],
        on_batch: OnBatch,
        before_batch: BeforeBatch | None = None,
    ) -> None:
        """Chunked bulk upsert (one chunk after the other); updates carry the integer id."""
        spec = self._client.spec.entity(entity)
        integers = _integer_properties(spec.dto)
        bodies = [
            {**({spec.id: int(w.record_id)} if w.record_id else {}), **_typed(w.values, integers)}
            for w in writes
        ]

        def on_chunk(offset: int, results: list[ItemResult]) -> None:
            outcomes = [_webcrm_outcome(r, writes[offset + i].kind) for i, r in enumerate(results)]
            on_batch(offset, outcomes)
            if before_batch is not None and offset + len(results) < len(writes):
                before_batch()  # the next chunk's request follows

        if before_batch is not None and writes:
            before_batch()
        self._client.bulk_upsert(entity, bodies, on_chunk=on_chunk)

    def changed_since(self, entity: str, since: datetime) -> ChangedRecords:
        """`/Queries` on `<X>UpdatedAt >= since` (whole seconds, widened, never narrowed)."""
        spec = self._client.spec.entity(entity)
        return _modified(self._client.query_updated(entity, since), spec.id, spec.updated_at)

    def entity_spec(self, entity: str) -> EntitySpec:
        """Where `entity`'s id and modification time live (`systems.yaml`)."""
        return self._client.spec.entity(entity)


def _integer_properties(dto: str | None) -> frozenset[str]:
    """The DTO's integer properties (vendor spec `type: integer`)."""
    schemas = webcrm_dto(dto or "") or {}
    return frozenset(p for p, schema in schemas.items() if schema.get("type") == "integer")


def _typed(values: Mapping[str, str], integers: frozenset[str]) -> dict[str, Any]:
    """Text values as the API types them: an integer property (e.g. `PersonOrganisationId`
    from a create default) is sent as a JSON integer; the vendor spec refuses "1000"."""
    return {
        p: int(v) if p in integers and v.strip().isascii() and v.strip().isdigit() else v
        for p, v in values.items()
    }


def _webcrm_outcome(result: ItemResult, kind: str) -> WriteOutcome:
    if result.ok:
        return WriteOutcome(True, result.id)
    error = result.error or f"{kind} failed"
    if result.outcome_unknown:
        return WriteOutcome(False, error=error)
    if kind == "update" and _WEBCRM_NOT_FOUND in error.lower():
        return WriteOutcome(False, error=error, not_found=True)
    return WriteOutcome(False, error=error, refused=True)


class CrmofficeWriter:
    """CRMOffice writes, one request per record with the client's bounded concurrency."""

    system = "crmoffice"

    def __init__(self, client: CrmofficeClient) -> None:
        self._client = client

    def counters(self) -> dict[str, int]:
        """The client's request counters."""
        return self._client.stats.as_dict()

    def write(
        self,
        entity: str,
        writes: Sequence[RecordWrite],
        on_batch: OnBatch,
        before_batch: BeforeBatch | None = None,
    ) -> None:
        """POST creates, PATCH only the fields sent; CRMOffice clears a field with null. A
        batch is one record (requests run concurrently): `before_batch` precedes each."""
        ops = [
            WriteOp(
                "create" if w.kind == "create" else "patch",
                entity,
                {name: (value or None) for name, value in w.values.items()},
                w.record_id,
            )
            for w in writes
        ]
        self._client.write_many(
            ops,
            on_result=lambda index, result: on_batch(index, [_crmoffice_outcome(result)]),
            before_each=before_batch,
        )

    def changed_since(self, entity: str, since: datetime) -> ChangedRecords:
        """`GET /{entity}?updatedSince=since` (pages of the entity's page size)."""
        spec = self._client.spec.entity(entity)
        records = self._client.list_all(entity, updated_since=since)
        return _modified(records, spec.id, spec.updated_at)

    def entity_spec(self, entity: str) -> EntitySpec:
        """Where `entity`'s id and modification time live (`systems.yaml`)."""
        return self._client.spec.entity(entity)


def _crmoffice_outcome(result: WriteResult) -> WriteOutcome:
    if result.ok and result.op.kind == "patch":
        return WriteOutcome(True, result.op.id)
    if result.ok:
        record_id = str((result.record or {}).get("id") or "")
        if record_id:
            return WriteOutcome(True, record_id)
        return WriteOutcome(False, error="create answered without the new record's id")
    error = result.error or f"{result.op.kind} failed"
    status = result.status
    answered = not result.outcome_unknown and status is not None
    if answered and status == 404 and result.op.kind == "patch":
        return WriteOutcome(False, error=error, not_found=True)
    if answered and status is not None and 400 <= status < 500:
        return WriteOutcome(False, error=error, refused=True)
    return WriteOutcome(False, error=error)
