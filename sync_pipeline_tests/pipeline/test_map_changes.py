"""Changes a data engineer makes in the field map alone, end to end against the sandbox:
switching a pair's conflict policy, and adding a field to a deployment that has links."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from sync_pipeline.core import FieldMap, load_field_map
from sync_pipeline.sandbox.server import RunningSandbox
from sync_pipeline_tests.pipeline.conftest import Pipeline
from sync_pipeline_tests.pipeline.helpers import PERSON, contact, partner, person

PACKAGE = Path(__file__).parents[2] / "sync_pipeline"


def edited_map(folder: Path, old: str, new: str) -> FieldMap:
    """The package's map files copied to `folder`, `old` replaced by `new` in fieldmap.yaml
    only (the one file a data engineer edits), loaded from there."""
    folder.mkdir()
    for source in PACKAGE.glob("*.yaml"):
        shutil.copy(source, folder / source.name)
    path = folder / "fieldmap.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not once in the package map"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return load_field_map(path)


def test_crmoffice_wins_in_the_map_settles_a_conflict_for_crmoffice(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """One line `conflict: crmoffice_wins` on the pair: the CRMOffice value wins a conflict
    where WebCRM's edit is newer, and the history names the rule."""
    field_map = edited_map(
        tmp_path / "map",
        "  persons_contacts:\n",
        "  persons_contacts:\n    conflict: crmoffice_wins\n",
    )
    pipeline = Pipeline(sandbox, tmp_path, field_map)
    person_id = pipeline.sandbox.webcrm.insert("Persons", dict(PERSON))
    pipeline.sync("persons_contacts")
    contact_id = partner(pipeline.store(), "persons_contacts", person_id)
    now = datetime.now(UTC)
    sandbox.crmoffice.edit(
        "contacts", contact_id, {"familyName": "Office"}, at=now - timedelta(seconds=30)
    )
    sandbox.webcrm.edit("Persons", person_id, {"PersonLastName": "Web"}, at=now)
    pipeline.sync("persons_contacts")
    assert person(sandbox, person_id)["PersonLastName"] == "Office"
    assert contact(sandbox, contact_id)["familyName"] == "Office"
    history = pipeline.store().history_frame(pair="persons_contacts", webcrm_id=str(person_id))
    [detail] = [json.loads(d) for d in history.loc[history["kind"] == "conflict", "detail"]]
    assert detail["conflict"]["familyName"]["rule"] == "crmoffice_wins"
    assert detail["conflict"]["familyName"]["winner"] == "crmoffice"


def _company(sandbox: RunningSandbox, company_id: str) -> str:
    record = sandbox.crmoffice.get("companies", company_id)
    assert record is not None
    return str(record.get("name") or "")


def _product(sandbox: RunningSandbox, product_id: int) -> str:
    record = sandbox.webcrm.get("Products", product_id)
    assert record is not None
    return str(record.get("ProductCombined") or "")


def test_adding_a_field_to_a_live_pair_overwrites_nothing(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """ProductCombined -> name added where products and companies are linked: a differing
    pair is held (no write to either API, shown by the dry run), empty sides are filled."""
    pipeline = Pipeline(sandbox, tmp_path)
    held = sandbox.webcrm.insert("Products", {"ProductCombined": "Widget"})
    to_company = sandbox.webcrm.insert("Products", {"ProductCombined": "Gadget"})
    to_product = sandbox.webcrm.insert("Products", {"ProductCombined": ""})
    pipeline.sync("products_companies", full=True)
    store = pipeline.store()
    company = {p: partner(store, "products_companies", p) for p in (held, to_company, to_product)}
    later = datetime.now(UTC) + timedelta(seconds=5)  # newest-wins would pick CRMOffice
    sandbox.crmoffice.edit("companies", company[held], {"name": "Acme A/S"}, at=later)
    sandbox.crmoffice.edit("companies", company[to_product], {"name": "Corp"}, at=later)
    pipeline.use_field_map(
        edited_map(
            tmp_path / "map",
            "    fields: []                # link-only pair for now\n",
            "    fields:\n      - {webcrm: ProductCombined, crmoffice: name, type: string}\n",
        )
    )
    dry = pipeline.sync("products_companies", full=True, dry_run=True)
    plan = dry.asset_value(dg.AssetKey(["products_companies", "plan_links"])).plan
    assert plan.held[["side", "id"]].values.tolist() == [["webcrm", str(held)]]
    assert "new field name differs" in plan.held["reason"].iloc[0]
    before = pipeline.writes()
    pipeline.sync("products_companies", full=True)
    assert pipeline.writes() == {
        "webcrm": before["webcrm"] + 1,
        "crmoffice": before["crmoffice"] + 1,
    }
    assert (_product(sandbox, held), _company(sandbox, company[held])) == ("Widget", "Acme A/S")
    assert _company(sandbox, company[to_company]) == "Gadget"
    assert _product(sandbox, to_product) == "Corp"
    pipeline.sync("products_companies", full=True)
    assert pipeline.writes() == {
        "webcrm": before["webcrm"] + 1,
        "crmoffice": before["crmoffice"] + 1,
    }
