"""Render the field map as the human data-flow document (reStructuredText)."""

from __future__ import annotations

from sync_pipeline.core.fieldmap import FieldMap, PairSpec

_DIRECTION_TEXT = {"to_crmoffice": "WebCRM → CRMOffice", "to_webcrm": "CRMOffice → WebCRM"}


def _heading(text: str, char: str) -> list[str]:
    return [text, char * len(text), ""]


def _cell(text: str) -> str:
    """Inline literal, safe for any property name (backquotes cannot occur in one)."""
    return f"``{text}``"


def _pair_section(fm: FieldMap, pair: PairSpec) -> list[str]:
    web, crm = fm.entity_spec(pair, "webcrm"), fm.entity_spec(pair, "crmoffice")
    creates = ", ".join(_DIRECTION_TEXT[d] for d in sorted(pair.creates)) or "none"
    keys = ", ".join(_cell(k) for k in pair.match_keys) or "none"
    lines = _heading(pair.name, "-")
    lines += [
        f"WebCRM {_cell(web.name)} (id {_cell(web.id)}) ↔ CRMOffice {_cell(crm.name)} "
        f"(id {_cell(crm.id)}). Updates flow both ways once records are linked; "
        f"creates: {creates}. Initial match keys: {keys}.",
        "",
    ]
    if not pair.fields:
        return [*lines, "No mapped fields: a link-only pair.", ""]
    lines += [
        f".. list-table:: {pair.name} field map",
        "   :header-rows: 1",
        "",
        "   * - Source property",
        "     - Target property",
        "     - Target data type",
    ]
    for field in pair.fields:
        target_type = "string (phone)" if field.type == "phone" else "string"
        lines += [
            f"   * - {_cell(field.webcrm)}",
            f"     - {_cell(field.crmoffice)}",
            f"     - {target_type}",
        ]
    return [*lines, ""]


def render_dataflow_rst(field_map: FieldMap) -> str:
    """One section per pair: an intro (entities, directions) and a list-table of its fields."""
    lines = _heading("Data flow: WebCRM ↔ CRMOffice", "=")
    lines += [
        "Generated from ``sync_pipeline/fieldmap.yaml``; edit the map, not this page. "
        "Source is WebCRM and target CRMOffice; values flow back the same way once linked. "
        "All values are strings of at most 255 characters; phones hold digits, spaces and "
        "``+ - ( ) .``.",
        "",
    ]
    for pair in field_map.pairs.values():
        lines += _pair_section(field_map, pair)
    return "\n".join(lines).rstrip("\n") + "\n"
