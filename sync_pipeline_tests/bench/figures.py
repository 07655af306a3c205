"""The registry of figure groups: the names each must produce, in `make bench` order."""

from __future__ import annotations

from sync_pipeline_tests.bench import fig_extract
from sync_pipeline_tests.bench.harness import Group

GROUPS: dict[str, Group] = {
    "extract": Group("extract", fig_extract.FIGURES, fig_extract.measure_extract),
}
