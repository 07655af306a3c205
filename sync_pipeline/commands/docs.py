"""`sync-pipeline docs`: the field map rendered as the RST data-flow document."""

from __future__ import annotations

import os
from pathlib import Path

from sync_pipeline.core import render_dataflow_rst
from sync_pipeline.settings import configured_field_map


def write_docs(output: str | None) -> int:
    """Print the document, or write it to `output`."""
    text = render_dataflow_rst(configured_field_map(os.environ))
    if output is None:
        print(text)
    else:
        Path(output).write_text(text, encoding="utf-8")
        print(f"wrote {output}")
    return 0
