"""Find secrets in files: every byte of every output, event log, store and value file."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from pathlib import Path

MIN_SECRET = 8  # shorter strings would match by chance; every secret here is far longer


def encodings(secrets: Iterable[str], client_id: str | None = None) -> set[bytes]:
    """Each secret as UTF-8 bytes, plus the Basic-auth form of a client secret."""
    out = {s.encode() for s in secrets if len(s) >= MIN_SECRET}
    if client_id:
        out |= {base64.b64encode(f"{client_id}:{s}".encode()) for s in secrets}
    return out


def scan_files(root: Path, secrets: set[bytes]) -> list[str]:
    """`path: secret prefix` for every file under `root` holding a secret."""
    if not secrets:
        return []
    pattern = re.compile(b"|".join(re.escape(s) for s in sorted(secrets, key=len, reverse=True)))
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for found in sorted(set(pattern.findall(data))):
            hits.append(f"{path.relative_to(root)}: {found[:6].decode(errors='replace')}…")
    return hits
