"""The fewest requests the two APIs allow for a given amount of work (figure 2's denominator).

Page and chunk sizes are those `systems.yaml` declares per entity; the entities are those the
package's field map syncs.

- One login per system per run.
- Reads at the entity's largest page size: WebCRM 1000 (it reports no total, so a read ends on a
  short page: a full last page costs one more, empty, request), CRMOffice 500 (`totalItems`
  tells when it is done; an empty list still costs one request). Each entity is read once per
  run, even when two pairs use it.
- Writes in the entity's `write_chunk`: WebCRM through the bulk PATCH, 500 records a request;
  CRMOffice one request per record.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from sync_pipeline.core import SIDES, EntitySpec, FieldMap, Side, load_field_map

# Whether a list response carries the total (CRMOffice's `totalItems`); WebCRM's does not.
REPORTS_TOTAL: dict[Side, bool] = {"webcrm": False, "crmoffice": True}


def read_requests(entity: EntitySpec, records: int) -> int:
    """Pages to read `records` of `entity` at its largest page size."""
    if REPORTS_TOTAL[entity.side]:
        return max(1, math.ceil(records / entity.page_size))
    return records // entity.page_size + 1


def synced_entities(field_map: FieldMap, side: Side) -> list[EntitySpec]:
    """The entities of `side` that some pair of `field_map` reads, in pair order."""
    names = dict.fromkeys(pair.entity(side) for pair in field_map.pairs.values())
    return [field_map.systems[side].entity(name) for name in names]


def minimum_requests(
    reads: Mapping[str, int], writes: Mapping[str, int], field_map: FieldMap | None = None
) -> dict[str, int]:
    """Per system, the least requests to read `reads[entity]` records of every synced entity and
    write `writes[entity]` records (created or changed)."""
    field_map = load_field_map() if field_map is None else field_map
    minimum: dict[str, int] = {}
    for side in SIDES:
        total = 1
        for entity in synced_entities(field_map, side):
            total += read_requests(entity, reads.get(entity.name, 0))
            total += math.ceil(writes.get(entity.name, 0) / entity.write_chunk)
        minimum[side] = total
    return minimum
