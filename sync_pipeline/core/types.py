"""Vocabulary shared by the core modules: sides, directions and a check verdict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Side = Literal["webcrm", "crmoffice"]
Direction = Literal["to_crmoffice", "to_webcrm"]

SIDES: tuple[Side, Side] = ("webcrm", "crmoffice")
DIRECTIONS: tuple[Direction, Direction] = ("to_crmoffice", "to_webcrm")

# The side a direction writes to, and the side its values come from.
TARGET_SIDE: dict[Direction, Side] = {"to_crmoffice": "crmoffice", "to_webcrm": "webcrm"}
SOURCE_SIDE: dict[Direction, Side] = {"to_crmoffice": "webcrm", "to_webcrm": "crmoffice"}


@dataclass(frozen=True)
class Verdict:
    """Outcome of a blocking check: whether the sink may run, the measured share, and why."""

    passed: bool
    share: float
    message: str
