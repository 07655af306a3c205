"""`sync-pipeline docs`: the field map rendered as the RST data-flow document."""

from __future__ import annotations

from pathlib import Path

from sync_pipeline.core import load_field_map, render_dataflow_rst


def write_docs(output: str | None) -> int:
    """Print the document, or write it to `output`."""
    text = render_dataflow_rst(load_field_map())
    if output is None:
        print(text)
    else:
        Path(output).write_text(text, encoding="utf-8")
        print(f"wrote {output}")
    return 0
