"""Figure 6, `extract_records_per_second`: a full read of N persons, no rate limit anywhere.

The sandbox runs in its own process; the client is the project's `WebcrmClient.list_all`
(pages of 1000, one login). The time covers the login and every page, parsed into dicts.
"""

from __future__ import annotations

import time

from sync_pipeline.clients import WebcrmClient
from sync_pipeline_tests.bench.config import BenchConfig
from sync_pipeline_tests.bench.harness import Figures
from sync_pipeline_tests.bench.sandbox_process import SandboxSpec, sandbox_process

WEBCRM_TOKEN = "sandbox-webcrm-token"
FIGURES = ("extract_records_per_second",)


def measure_extract(config: BenchConfig) -> Figures:
    """Persons per second read by `WebcrmClient.list_all` from a sandbox holding N persons."""
    n = config.extract_persons
    with sandbox_process(SandboxSpec(persons=n)) as sandbox:
        with WebcrmClient(sandbox.webcrm_url, WEBCRM_TOKEN, rate_limit_per_minute=None) as client:
            start = time.perf_counter()
            records = client.list_all("Persons")
            elapsed = time.perf_counter() - start
        requests = sandbox.stats()["webcrm"]["requests_total"]
    if len(records) != n:
        raise RuntimeError(f"extract read {len(records)} persons, expected {n}")
    return {
        "extract_records_per_second": round(n / elapsed),
        "extract_seconds": round(elapsed, 3),
        "extract_requests": requests,
    }
