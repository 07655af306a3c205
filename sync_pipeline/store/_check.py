"""`check`: verify the store and say what a repair would do; `repair`: only the safe part.

Safe means it cannot lose a record or create a duplicate:
- an open intent older than the staleness window is closed as `not_applied` only when a full read
  of its target entity shows no unlinked record at all, so the create cannot have happened;
- an expired pair lease (its run died) is marked free (its token stays spent).
A held lease is shown (holder, token, age) as a note; one past its expiry is a problem.
Everything else is reported for the next sync (which adopts or orphans) or for a person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from sync_pipeline.store._lock import held_locks
from sync_pipeline.store._migrate import stored_version
from sync_pipeline.store._schema import SCHEMA_VERSION, failures, intents, links, locks, quarantine
from sync_pipeline.store._time import iso
from sync_pipeline.store._types import TARGET_SIDE

RemoteIds = Mapping[tuple[str, str], set[str]]
PairEntities = Mapping[str, tuple[str, str]]  # pair -> (webcrm entity, crmoffice entity)
_SAMPLE = 5


@dataclass(frozen=True)
class IntegrityReport:
    """What `check` found: problems, what a repair would do, and informational notes."""

    schema_version: int | None
    problems: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    closable_intents: tuple[int, ...] = ()
    expired_locks: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def _sample(values: list[str]) -> str:
    shown = ", ".join(values[:_SAMPLE])
    return shown + (f", … ({len(values)} in all)" if len(values) > _SAMPLE else "")


def _sqlite_checks(connection: Connection, report: IntegrityReport) -> None:
    if connection.dialect.name != "sqlite":
        return
    result = [row[0] for row in connection.exec_driver_sql("PRAGMA integrity_check")]
    if result != ["ok"]:
        report.problems.append(f"SQLite integrity_check failed: {_sample(result)}")
        report.repairs.append("restore the store from `state export` output or a backup")
    violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if violations:
        report.problems.append(f"{len(violations)} foreign key violations")


def _duplicate_claims(connection: Connection, report: IntegrityReport) -> None:
    for keys, what in (
        ((links.c.pair, links.c.webcrm_id), "WebCRM record linked twice in one pair"),
        ((links.c.crmoffice_entity, links.c.crmoffice_id), "CRMOffice record claimed twice"),
    ):
        query = select(*keys).group_by(*keys).having(func.count() > 1)
        found = [f"{a}/{b}" for a, b in connection.execute(query)]
        if found:
            report.problems.append(f"{what}: {_sample(found)}")
            report.repairs.append(f"not repaired automatically ({what}): review by hand")
    query = (
        select(intents.c.pair, intents.c.direction, intents.c.source_id)
        .where(intents.c.status == "open")
        .group_by(intents.c.pair, intents.c.direction, intents.c.source_id)
        .having(func.count() > 1)
    )
    repeated = [" ".join(row) for row in connection.execute(query)]
    if repeated:
        report.problems.append(f"several open intents for one source record: {_sample(repeated)}")
        report.repairs.append("not repaired: the next sync holds these; check for duplicates")


def _held_intents(connection: Connection, report: IntegrityReport) -> None:
    query = select(intents.c.pair, intents.c.direction, intents.c.source_id, intents.c.target_id)
    held = [
        f"{p} {d} {s}→{t}"
        for p, d, s, t in connection.execute(query.where(intents.c.status == "held"))
    ]
    if held:
        report.problems.append(
            f"{len(held)} creates made a record that could not be linked (probable duplicates): "
            f"{_sample(held)}"
        )
        report.repairs.append("not repaired: delete or link the created records by hand")


def _linked(connection: Connection, system: str, entity: str, pairs: PairEntities) -> set[str]:
    """Ids of a system entity held by any link (any status)."""
    if system == "crmoffice":
        query = select(links.c.crmoffice_id).where(links.c.crmoffice_entity == entity)
    else:
        names = [pair for pair, (webcrm, _crm) in pairs.items() if webcrm == entity]
        query = select(links.c.webcrm_id).where(links.c.pair.in_(names))
    return set(connection.execute(query).scalars())


def _stale_intents(
    connection: Connection,
    report: IntegrityReport,
    remote: RemoteIds,
    pairs: PairEntities,
    cutoff: datetime,
) -> tuple[int, ...]:
    query = select(intents.c.id, intents.c.pair, intents.c.direction, intents.c.source_id).where(
        intents.c.status == "open", intents.c.created_at < iso(cutoff)
    )
    stale = connection.execute(query.order_by(intents.c.id)).all()
    if not stale:
        return ()
    closable: list[int] = []
    unlinked: dict[tuple[str, str], bool] = {}
    for intent_id, pair, direction, _source in stale:
        side = TARGET_SIDE[direction]
        entity = pairs.get(pair, ("", ""))[0 if side == "webcrm" else 1]
        key = (side, entity)
        if key in remote and key not in unlinked:
            unlinked[key] = bool(remote[key] - _linked(connection, side, entity, pairs))
        if key in remote and not unlinked[key]:
            closable.append(intent_id)
    described = [f"{i} ({p} {d} {s})" for i, p, d, s in stale]
    report.problems.append(
        f"{len(stale)} open intents older than the run that made them: {_sample(described)}"
    )
    if closable:
        report.repairs.append(
            f"close {len(closable)} intents as not_applied: a full read of their target shows no "
            "unlinked record, so their create never happened"
        )
    if len(closable) < len(stale):
        report.repairs.append(
            f"leave {len(stale) - len(closable)} intents open: the next sync adopts the record "
            "each may have created, or holds it if ambiguous"
        )
    return tuple(closable)


def _missing_records(
    connection: Connection, report: IntegrityReport, remote: RemoteIds, pairs: PairEntities
) -> None:
    for (system, entity), ids in sorted(remote.items()):
        column = links.c.webcrm_id if system == "webcrm" else links.c.crmoffice_id
        query = select(links.c.pair, column).where(links.c.status == "active")
        if system == "webcrm":
            names = [pair for pair, (webcrm, _crm) in pairs.items() if webcrm == entity]
            query = query.where(links.c.pair.in_(names))
        else:
            query = query.where(links.c.crmoffice_entity == entity)
        missing = [
            f"{pair} {record}" for pair, record in connection.execute(query) if record not in ids
        ]
        if missing:
            report.problems.append(
                f"{len(missing)} active links point at {system} {entity} records missing from "
                f"the full read: {_sample(missing)}"
            )
            report.repairs.append(
                f"not repaired here: the next full sync marks those {len(missing)} links orphaned"
            )


def _locks(connection: Connection, report: IntegrityReport, now: datetime) -> tuple[str, ...]:
    """Each held lease as a note (holder, token, age); expired ones as a problem. `now`: the
    database's clock (leases are kept on it)."""
    expired: list[str] = []
    for pair, owner, token, since, expires in held_locks(connection):
        age = f"held by {owner} with token {token} for {(now - since).total_seconds():.0f} s"
        left = (expires - now).total_seconds()
        if left >= 0:
            report.notes.append(f"pair lock {pair}: {age}, expires in {left:.0f} s")
            continue
        expired.append(pair)
        report.problems.append(
            f"pair lock {pair}: {age}, EXPIRED {-left:.0f} s ago (its run is gone; the next run "
            "takes it over)"
        )
    if expired:
        report.repairs.append(f"free {len(expired)} expired pair locks (their runs are gone)")
    return tuple(expired)


def _notes(connection: Connection, report: IntegrityReport) -> None:
    for table, status, label in (
        (links, "orphaned", "orphaned links"),
        (quarantine, "open", "open quarantine entries"),
        (failures, "given_up", "given-up failures"),
    ):
        query = (
            select(table.c.pair, func.count())
            .where(table.c.status == status)
            .group_by(table.c.pair)
            .order_by(table.c.pair)
        )
        for pair, count in connection.execute(query):
            report.notes.append(f"{pair}: {count} {label}")


def check(
    connection: Connection,
    remote_ids: RemoteIds,
    pairs: PairEntities,
    stale_after: timedelta,
    now: datetime,
) -> IntegrityReport:
    """Verify the store; see the module docstring for what counts as a safe repair."""
    version = stored_version(connection)
    report = IntegrityReport(schema_version=version)
    if version != SCHEMA_VERSION:
        report.problems.append(f"schema version is {version}, expected {SCHEMA_VERSION}")
    _sqlite_checks(connection, report)
    _duplicate_claims(connection, report)
    _held_intents(connection, report)
    closable = _stale_intents(connection, report, remote_ids, pairs, now - stale_after)
    _missing_records(connection, report, remote_ids, pairs)
    expired = _locks(connection, report, now)
    _notes(connection, report)
    return IntegrityReport(
        schema_version=version,
        problems=report.problems,
        repairs=report.repairs,
        notes=report.notes,
        closable_intents=closable,
        expired_locks=expired,
    )


def repair(connection: Connection, report: IntegrityReport, now: datetime) -> list[str]:
    """Apply the safe repairs of `report` that still apply; say what was done."""
    done: list[str] = []
    if report.closable_intents:
        statement = (
            intents.update()
            .where(intents.c.id.in_(report.closable_intents), intents.c.status == "open")
            .values(status="not_applied", closed_at=iso(now))
        )
        closed = connection.execute(statement).rowcount
        done.append(f"closed {closed} stale intents as not_applied")
    if report.expired_locks:
        expired = (
            locks.update()
            .where(
                locks.c.pair.in_(report.expired_locks),
                locks.c.status == "held",
                locks.c.expires_at < iso(now),
            )
            .values(status="free")
        )
        done.append(f"freed {connection.execute(expired).rowcount} expired pair locks")
    return done
