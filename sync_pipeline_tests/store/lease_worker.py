"""A writer process for the lease tests: `python -m sync_pipeline_tests.store.lease_worker URL
NAME SECONDS TTL`.

For SECONDS it tries to hold the pair through the sync's own `hold_pair` (heartbeat, identity
rules) and, while it holds it, renews the lease before each "remote batch" and makes one fenced
store write (an intent with run id `NAME:TOKEN`) every 50 ms. It says what happens on stdout,
one line each: `ready <owner>`, `acquired <token>`, `lost <token>`, `locked`, `done <writes>`.
"""

from __future__ import annotations

import sys
import time

from sync_pipeline.store import LeaseLostError, LinkStore, PairLockedError
from sync_pipeline.sync.run_guard import hold_pair, lock_owner

PAIR = "persons_contacts"


def _say(line: str) -> None:
    print(line, flush=True)


def _write_while_held(store: LinkStore, name: str, ttl: float, deadline: float) -> int:
    """Hold the pair and write until the deadline; how many writes went through."""
    writes = 0
    with hold_pair(store, PAIR, name, ttl) as lock:
        _say(f"acquired {lock.token}")
        try:
            while time.monotonic() < deadline:
                lock.ensure()  # before a remote write batch
                item: list[tuple[str, dict[str, str]]] = [(f"{name}-{lock.token}-{writes}", {})]
                run_id = f"{name}:{lock.token}"
                store.open_intents_for(PAIR, "to_crmoffice", item, run_id, fence=lock.fence)
                writes += 1
                time.sleep(0.05)
        except LeaseLostError:
            _say(f"lost {lock.token}")
    return writes


def main(argv: list[str]) -> int:
    """Run one writer; exit 0 at the deadline."""
    url, name, seconds, ttl = argv[0], argv[1], float(argv[2]), float(argv[3])
    deadline = time.monotonic() + seconds
    writes = 0
    refused = False
    with LinkStore(url) as store:
        _say(f"ready {lock_owner(name)}")
        while time.monotonic() < deadline:
            try:
                writes += _write_while_held(store, name, ttl, deadline)
            except PairLockedError:
                if not refused:
                    _say("locked")
                refused = True
                time.sleep(0.1)
    _say(f"done {writes}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
