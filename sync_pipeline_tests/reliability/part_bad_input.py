"""Part 4: the bad-input corpus injected into both CRMs and synced through the pipeline.

Each bad record must be quarantined with a clear reason, no run may crash, and nothing of it may
reach the other CRM. Then enough bad persons to pass the threshold: the blocking check must stop
the persons sink, and the run's failure line must say so.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync_pipeline.sandbox.seed import seed_sandbox
from sync_pipeline.sandbox.server import SandboxSettings
from sync_pipeline.store import LinkStore
from sync_pipeline_tests.reliability.bad_corpus import ABSENT, CORPUS, DUPLICATE, BadKind
from sync_pipeline_tests.reliability.checks import norm
from sync_pipeline_tests.reliability.figures import Part
from sync_pipeline_tests.reliability.harness import InProcessPipeline
from sync_pipeline_tests.reliability.sandbox_host import UNLIMITED, HostedSandbox, hosted_sandbox

MARKER = "Zq"  # + the kind's number: in both names of a fresh record, found wherever it leaks


@dataclass
class Injected:
    """Where one kind went: the record id and, for linked kinds, its partner."""

    kind: BadKind
    number: int
    record_id: str
    partner_id: str = ""
    partner_before: dict[str, Any] | None = None

    @property
    def marker(self) -> str:
        """The marker in the fresh record's names."""
        return f"{MARKER}{self.number:02d}x"


def _fresh(sandbox: HostedSandbox, kind: BadKind, marker: str) -> str:
    if kind.system == "webcrm":
        record = {"PersonFirstName": marker, "PersonLastName": marker}
        if kind.mode == "insert":
            record[kind.field] = f"{kind.value}"
        return str(sandbox.webcrm.insert("Persons", record))
    contact = {"givenName": marker, "familyName": marker}
    if kind.mode == "insert":
        contact[kind.field] = kind.value
    return sandbox.crmoffice.insert("contacts", contact)


def _linked(sandbox: HostedSandbox, store: LinkStore, number: int, kind: BadKind) -> Injected:
    links = store.links_frame("persons_contacts", ["givenName"])
    webcrm_id, crmoffice_id = (str(v) for v in links.iloc[number][["webcrm_id", "crmoffice_id"]])
    if kind.system == "webcrm":
        partner = sandbox.crmoffice.get("contacts", crmoffice_id)
        return Injected(kind, number, webcrm_id, crmoffice_id, partner)
    partner = sandbox.webcrm.get("Persons", int(webcrm_id))
    return Injected(kind, number, crmoffice_id, webcrm_id, partner)


def _store_value(sandbox: HostedSandbox, injected: Injected) -> None:
    """Write a value the API would refuse straight into the sandbox's storage."""
    kind = injected.kind
    if kind.system == "webcrm":
        stored = sandbox.webcrm._records["Persons"][int(injected.record_id)]
        stored[kind.field] = kind.value
        stored["PersonUpdatedAt"] = int(time.time())
    else:
        stored = sandbox.crmoffice._records["contacts"][injected.record_id]
        stored[kind.field] = kind.value
        stored["updatedAt"] = int(time.time() * 1000)


def _wire(sandbox: HostedSandbox, injected: Injected) -> None:
    """Rewrite the record wherever the CRM lists it."""
    kind = injected.kind

    def rewrite(record: dict[str, Any]) -> list[dict[str, Any]]:
        if kind.value is DUPLICATE:
            return [record, dict(record)]
        if kind.value is ABSENT:
            record.pop(kind.field, None)
        else:
            record[kind.field] = kind.value
        return [record]

    if kind.system == "webcrm":
        sandbox.webcrm_corruptions.rewrites[("PersonId", injected.record_id)] = rewrite
        sandbox.webcrm.edit("Persons", int(injected.record_id), {"PersonTitle": "touched"})
    else:
        sandbox.crmoffice_corruptions.rewrites[("id", injected.record_id)] = rewrite
        sandbox.crmoffice.edit("contacts", injected.record_id, {"title": "touched"})


def inject(sandbox: HostedSandbox, store: LinkStore, kinds: tuple[BadKind, ...]) -> list[Injected]:
    """Put every kind into its CRM."""
    out = []
    for number, kind in enumerate(kinds, start=1):
        if kind.linked:
            injected = _linked(sandbox, store, number, kind)
        else:
            injected = Injected(kind, number, "")
            injected.record_id = _fresh(sandbox, kind, injected.marker)
        if kind.mode == "store":
            _store_value(sandbox, injected)
        elif kind.mode == "wire":
            _wire(sandbox, injected)
        out.append(injected)
    return out


def _other_side(sandbox: HostedSandbox, system: str) -> str:
    """Everything the other CRM holds for persons/contacts, as one searchable text."""
    records = (
        sandbox.crmoffice.records("contacts")
        if system == "webcrm"
        else sandbox.webcrm.records("Persons")
    )
    return json.dumps(records, ensure_ascii=False, default=str)


def _quarantine_reason(store: LinkStore, injected: Injected) -> str | None:
    frame = store.quarantine_frame()
    for row in frame.to_dict("records"):
        if (not injected.kind.linked and injected.marker in str(row["payload"])) or str(
            row["record_id"]
        ) == injected.record_id:
            return str(row["reason"])
    return None


def _mapped(record: dict[str, Any] | None) -> list[str]:
    keys = [
        *("givenName", "familyName", "mobilePhone", "directPhone"),
        *("PersonFirstName", "PersonLastName", "PersonMobilePhone", "PersonDirectPhone"),
    ]
    return [norm(record.get(k)) for k in keys if k in record] if record else []


def evaluate(
    sandbox: HostedSandbox, store: LinkStore, injected: Injected
) -> tuple[bool, bool, str]:
    """(handled as its outcome says, leaked into the other CRM, explanation)."""
    kind, other = injected.kind, _other_side(sandbox, injected.kind.system)
    reason = _quarantine_reason(store, injected)
    if injected.kind.linked:
        partner = (
            sandbox.crmoffice.get("contacts", injected.partner_id)
            if kind.system == "webcrm"
            else sandbox.webcrm.get("Persons", int(injected.partner_id))
        )
        leaked = _mapped(partner) != _mapped(injected.partner_before)
    elif kind.outcome == "ignored":
        leaked = str(kind.value) in other
    else:
        leaked = injected.marker in other and kind.outcome == "quarantine"
    if kind.outcome == "verbatim":
        arrived = json.dumps(kind.value, ensure_ascii=False)[1:-1] in other
        return arrived and reason is None, not arrived and injected.marker in other, f"{reason}"
    if kind.outcome == "ignored":
        return reason is None, leaked, f"quarantined: {reason}" if reason else "synced"
    clear = reason is not None and kind.reason.lower() in reason.lower()
    return clear, leaked, f"reason: {reason!r}"


@dataclass(frozen=True)
class BadInputSize:
    """Seed records (bad rows must stay under 10 % of them) and kinds used."""

    seed_records: int = 300
    kinds: tuple[BadKind, ...] = CORPUS
    runs: int = 2
    flood: int = 60


FULL = BadInputSize()


def run_corpus(pipeline: InProcessPipeline, size: BadInputSize, part: Part) -> None:
    """Inject, sync, and judge each kind."""
    with pipeline.store() as store:
        injected = inject(pipeline.sandbox, store, size.kinds)
    failures = 0
    for number in range(size.runs):
        result = pipeline.sync(full=number == size.runs - 1)
        if not result.success:
            failures += 1
            part.note(f"bad-input run {number + 1} failed: {pipeline.why(result)}")
    part.figure("bad_input_run_failures", failures)
    handled = leaks = 0
    with pipeline.store() as store:
        for item in injected:
            ok, leaked, why = evaluate(pipeline.sandbox, store, item)
            handled += ok
            leaks += leaked
            if not ok or leaked:
                part.note(f"{item.kind.name}: handled={ok} leaked={leaked} ({why})")
    part.figure("bad_input_kinds", len(injected))
    part.figure("bad_input_handled", handled)
    part.figure("bad_input_leaks", leaks)


def run_flood(pipeline: InProcessPipeline, size: BadInputSize, part: Part) -> None:
    """Bad persons over the threshold: the check stops the persons sink and the run says why."""
    sandbox = pipeline.sandbox
    for i in range(size.flood):
        record_id = sandbox.webcrm.insert("Persons", {"PersonFirstName": f"Flood{i}"})
        # A boolean: a number would be its text (live evidence 4), not bad input.
        sandbox.webcrm._records["Persons"][record_id]["PersonLastName"] = i % 2 == 0
    sandbox.crmoffice_writes.clear()
    result = pipeline.sync("persons_contacts")
    line = pipeline.why(result)
    stopped = not result.success and "valid_rows" in line and "quarantined" in line
    part.figure("threshold_stops_sink", int(stopped))
    writes = sandbox.crmoffice_writes.snapshot()
    part.figure("threshold_writes", len(writes))
    part.notes += [f"written over the threshold: {w.method} {w.path} {w.body}" for w in writes[:3]]
    part.note(f"over the threshold: {line or 'the run succeeded'}")


def run_bad_input(folder: Path, size: BadInputSize = FULL) -> Part:
    """Part 4; figures bad_input_kinds, bad_input_leaks."""
    part = Part("bad_input")
    settings = SandboxSettings(webcrm_rate_limit=UNLIMITED, crmoffice_rate_limit=UNLIMITED)
    with hosted_sandbox(settings) as sandbox:
        seed_sandbox(sandbox.webcrm, sandbox.crmoffice, size.seed_records)
        pipeline = InProcessPipeline(sandbox, folder, max_update_share=1.0)
        try:
            for _ in range(3):
                if pipeline.planned_nothing(pipeline.sync()):
                    break
            run_corpus(pipeline, size, part)
            run_flood(pipeline, size, part)
        finally:
            pipeline.close()
    return part
