"""The fewest requests the two APIs allow for a given amount of work (figure 2's denominator).

- One login per system per run.
- Reads at the largest page size: WebCRM 1000 (it reports no total, so a read ends on a short
  page: a full last page costs one more, empty, request), CRMOffice 500 (`totalItems` tells
  when it is done; an empty list still costs one request). Each entity is read once per run,
  even when two pairs use it.
- WebCRM writes through the bulk PATCH, 500 records a request, per entity; CRMOffice writes one
  request per record.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

WEBCRM_ENTITIES = ("Persons", "Users", "Products")
CRMOFFICE_ENTITIES = ("contacts", "companies")
WEBCRM_PAGE, CRMOFFICE_PAGE, WEBCRM_PATCH = 1000, 500, 500


def webcrm_read(records: int) -> int:
    """Pages to read `records` when only a short page says the read is done."""
    return records // WEBCRM_PAGE + 1


def crmoffice_read(records: int) -> int:
    """Pages to read `records` when the first page carries the total."""
    return max(1, math.ceil(records / CRMOFFICE_PAGE))


def minimum_requests(reads: Mapping[str, int], writes: Mapping[str, int]) -> dict[str, int]:
    """Per system, the least requests to read `reads[entity]` records of every entity and write
    `writes[entity]` records (created or changed)."""
    webcrm = 1 + sum(webcrm_read(reads.get(e, 0)) for e in WEBCRM_ENTITIES)
    webcrm += sum(math.ceil(writes.get(e, 0) / WEBCRM_PATCH) for e in WEBCRM_ENTITIES)
    crmoffice = 1 + sum(crmoffice_read(reads.get(e, 0)) for e in CRMOFFICE_ENTITIES)
    crmoffice += sum(writes.get(e, 0) for e in CRMOFFICE_ENTITIES)
    return {"webcrm": webcrm, "crmoffice": crmoffice}
