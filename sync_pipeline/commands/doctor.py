"""`sync-pipeline doctor`: a read-only preflight against the configured systems.

One line per check: `ok`, `warn` or `fail`, what was found and, when not ok, what to do. Exit 0
when nothing failed, 1 otherwise. It reads one short page per mapped entity (plus one `/Queries`
window on WebCRM) and writes nothing to either system or to the link store.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from sync_pipeline.clients import (
    AuthenticationError,
    CrmClientError,
    CrmofficeClient,
    Probe,
    WebcrmClient,
)
from sync_pipeline.commands.connect import open_clients
from sync_pipeline.core import SIDES, FieldMap, Side
from sync_pipeline.settings import SettingsError, configured_field_map, rate_limits, state_url_from
from sync_pipeline.store import LinkStore, StoreError

Status = Literal["ok", "warn", "fail"]
NAMES: dict[Side, str] = {"webcrm": "WebCRM", "crmoffice": "CRMOffice"}
# The person property the default organisation fills (live evidence 8: it must name one).
ORGANISATION_REFERENCE = "PersonOrganisationId"
# A clock further off than this makes "newest wins" and incremental windows unreliable.
CLOCK_WARN_SECONDS = 60.0


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    status: Status
    name: str
    detail: str

    def line(self) -> str:
        """`ok    name: detail`."""
        return f"{self.status:<5} {self.name}: {self.detail}"


Clients = dict[Side, WebcrmClient | CrmofficeClient]


def _entities(field_map: FieldMap, side: Side) -> list[str]:
    return sorted({pair.entity(side) for pair in field_map.pairs.values()})


def _probes(clients: Clients, field_map: FieldMap) -> Iterator[Check | tuple[Side, str, Probe]]:
    """Log in and read one short page of every mapped entity (read rights); a refused login
    is one line per system."""
    for side in SIDES:
        for entity in _entities(field_map, side):
            try:
                probe = clients[side].probe(entity, size=5)
            except AuthenticationError as error:
                yield Check("fail", f"{NAMES[side]} login", str(error))
                break
            except CrmClientError as error:
                yield Check("fail", f"{NAMES[side]} {entity}", str(error))
                continue
            yield side, entity, probe


def mapped_properties(field_map: FieldMap, side: Side, entity: str, probe: Probe) -> Check:
    """Every property the field map reads on this entity is present in the records."""
    name = f"{NAMES[side]} {entity}"
    if not probe.records:
        return Check("warn", name, "readable, but empty: the field map cannot be checked yet")
    spec = field_map.systems[side].entity(entity)
    wanted = {spec.id, spec.updated_at} | {
        f.prop(side) for p in field_map.pairs.values() if p.entity(side) == entity for f in p.fields
    }
    missing = sorted(wanted - set(probe.records[0]))
    if missing:
        return Check(
            "fail",
            name,
            f"records lack {', '.join(missing)}: correct fieldmap.yaml or the account's "
            "API field settings",
        )
    return Check("ok", name, f"readable; every mapped property present ({len(wanted)})")


def _query_zone(client: WebcrmClient, entity: str, probe: Probe) -> Check:
    """The zone WebCRM renders times in, and whether `/Queries` reads the client's date
    literals the same way: the record must fall in the one-second window of its own time."""
    name = "WebCRM time zone"
    spec = client.spec.entity(entity)
    record = next((r for r in probe.records if r.get(spec.updated_at)), None)
    if record is None:
        return Check("warn", name, f"no {entity} record with {spec.updated_at} to probe")
    stamp = datetime.fromisoformat(str(record[spec.updated_at]))
    rendered = stamp.strftime("%z")
    found = client.query_updated(entity, stamp, stamp + timedelta(seconds=1))
    if str(record[spec.id]) not in {str(r.get(spec.id)) for r in found}:
        return Check(
            "fail",
            name,
            f"renders {rendered}, but /Queries does not find {entity} {record[spec.id]} in "
            "the window of its own update time: it reads date literals in another zone, so "
            "incremental runs would miss changes",
        )
    return Check("ok", name, f"renders UTC{rendered[:3]}:{rendered[3:]}; /Queries windows agree")


def _clocks(probes: dict[Side, Probe]) -> Check:
    offsets = {
        side: p.clock_offset_seconds
        for side, p in probes.items()
        if p.clock_offset_seconds is not None
    }
    if not offsets:
        return Check("warn", "clocks", "no Date header seen: clock offsets unknown")
    text = ", ".join(f"{NAMES[s]} {o:+.0f} s" for s, o in offsets.items())
    worst = max(abs(o) for o in offsets.values())
    if worst > CLOCK_WARN_SECONDS:
        return Check("warn", "clocks", f"{text} from this machine: check NTP on the far side")
    return Check("ok", "clocks", f"{text} from this machine (±1 s)")


def referenced_entity(client: WebcrmClient, prop: str) -> str | None:
    """The WebCRM entity a reference property points at: the one whose id property ends the
    reference's name (`PersonOrganisationId` -> the entity with id `OrganisationId`)."""
    for name, spec in client.spec.entities.items():
        if prop != spec.id and prop.endswith(spec.id):
            return name
    return None


def _default_organisation(client: WebcrmClient) -> Check:
    name = "create defaults"
    value = os.environ.get("WEBCRM_DEFAULT_ORGANISATION_ID", "").strip()
    if not value:
        return Check(
            "warn",
            name,
            "WEBCRM_DEFAULT_ORGANISATION_ID is not set: WebCRM requires an organisation for "
            "every person, so persons created from contacts would be refused",
        )
    entity = referenced_entity(client, ORGANISATION_REFERENCE)
    if entity is None:
        return Check("fail", name, f"no WebCRM entity is declared for {ORGANISATION_REFERENCE}")
    try:
        client.get(entity, value)
    except CrmClientError as error:
        return Check(
            "fail", name, f"WEBCRM_DEFAULT_ORGANISATION_ID={value} names no organisation: {error}"
        )
    return Check("ok", name, f"organisation {value} exists")


def _rate_limits() -> Check:
    limits = rate_limits(os.environ)
    text = ", ".join(f"{NAMES[s]} {limits[s]}/min" for s in SIDES)
    return Check("ok", "rate limits", f"{text} per token")


def _store() -> Check:
    url = state_url_from(os.environ, Path.cwd())
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return Check("ok", "link store", "none yet: the first sync creates it")
    try:
        with LinkStore(url) as store:
            report = store.check()
    except (StoreError, ValueError) as error:
        return Check("fail", "link store", str(error))
    status: Status = "ok" if report.ok else "warn"
    problems = f"; {len(report.problems)} problems (run `state check`)" if report.problems else ""
    return Check(status, "link store", f"schema version {report.schema_version}{problems}")


def run_checks(say: Callable[[str], None] = print) -> int:
    """Run every check, print one line each, and return the exit code (0 ready, 1 not)."""
    checks: list[Check] = []

    def record(check: Check) -> None:
        checks.append(check)
        say(check.line())

    try:
        record(_rate_limits())
        field_map = configured_field_map(os.environ)
    except (SettingsError, ValueError) as error:
        record(Check("fail", "configuration", str(error)))
        return 1
    webcrm, crmoffice = open_clients(os.environ)
    with webcrm, crmoffice:
        clients: Clients = {"webcrm": webcrm, "crmoffice": crmoffice}
        first: dict[Side, tuple[str, Probe]] = {}
        for found in _probes(clients, field_map):
            if isinstance(found, Check):
                record(found)
                continue
            side, entity, probe = found
            if side not in first:
                record(Check("ok", f"{NAMES[side]} login", "credentials accepted"))
                first[side] = entity, probe
            record(mapped_properties(field_map, side, entity, probe))
        if "webcrm" in first:
            record(_query_zone(webcrm, *first["webcrm"]))
            record(_default_organisation(webcrm))
        record(_clocks({side: probe for side, (_, probe) in first.items()}))
    record(_store())
    failed = sum(c.status == "fail" for c in checks)
    warnings = sum(c.status == "warn" for c in checks)
    say(f"{'not ready' if failed else 'ready'}: {failed} failed, {warnings} warnings")
    return 1 if failed else 0
