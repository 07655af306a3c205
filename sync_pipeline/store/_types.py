"""The values callers hand to the store and get back from it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["to_crmoffice", "to_webcrm"]
Side = Literal["webcrm", "crmoffice"]
LinkKind = Literal["create", "match", "adopt"]
ShadowKind = Literal["update", "shadow_move", "conflict"]
LinkStatus = Literal["active", "orphaned"]
IntentStatus = Literal["open", "applied", "not_applied", "held"]
FailureStatus = Literal["retrying", "given_up"]


@dataclass(frozen=True)
class LinkWrite:
    """A new link: both ids, the agreed shadow and why it was made.

    `intent_id` is the create intent this link fulfils (closed as applied with the link);
    `detail` lands in the history row.
    """

    webcrm_id: str
    crmoffice_id: str
    shadow: Mapping[str, str]
    kind: LinkKind
    direction: Direction | None = None
    intent_id: int | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ShadowWrite:
    """New agreed values for some fields of one link (merged into its shadow).

    `kind` is `update` (a value was written to `direction`), `shadow_move` (both sides already
    agree) or `conflict` (written, with the conflict in `detail`).
    """

    webcrm_id: str
    values: Mapping[str, str]
    kind: ShadowKind
    direction: Direction | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LinkOutcome:
    """What became of one `LinkWrite`: `ok`, or the reason it was refused."""

    webcrm_id: str
    crmoffice_id: str
    ok: bool
    reason: str = ""


# The side a direction writes to, and the side its values come from.
TARGET_SIDE: dict[str, Side] = {"to_crmoffice": "crmoffice", "to_webcrm": "webcrm"}
SOURCE_SIDE: dict[str, Side] = {"to_crmoffice": "webcrm", "to_webcrm": "crmoffice"}
