"""The production deployment, described once: what `make prod` generates and what the files in
`deploy/` (Dockerfile, compose.yaml, dagster.yaml, helm/values.yaml) must agree with
(`sync_pipeline_tests/test_deploy_files.py` checks them against this module).

The Dagster instance (`dagster.yaml`, see https://docs.dagster.io/deployment/oss/dagster-yaml):
PostgreSQL storage through psycopg2 (`dagster-postgres`' `postgres_db.scheme`), the
QueuedRunCoordinator with a limit of runs per API token (each run is tagged with a non-secret
key of its tokens, `token_tags`), the per-pair pools (`sync_<pair>`, one step at a time),
compute logs, retries of whole runs, and no telemetry.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import make_url

from sync_pipeline.settings import connection

IMAGE = "sync-pipeline"  # the code location's image (deploy/Dockerfile)
IMAGE_TAG = version("sync-pipeline")  # tagged with the package's version
MODULE = "sync_pipeline.definitions"  # what the code server loads (`-m`)
LOCATION = "sync_pipeline"  # the code location's name in the workspace
CODE_SERVER_PORT = 4000  # the gRPC port of the code location's container
POSTGRES_SCHEME = "postgresql+psycopg2"  # see store/_engine.normalised_url

# Settings of the code location and its runs; the secrets among them come from a Secret.
SECRET_ENV = ("WEBCRM_API_TOKEN", "CRMOFFICE_CLIENT_ID", "CRMOFFICE_CLIENT_SECRET")
SETTING_ENV = (
    "WEBCRM_BASE_URL",
    "CRMOFFICE_BASE_URL",
    "WEBCRM_DEFAULT_ORGANISATION_ID",
    "SYNC_STATE_URL",
    "SYNC_IO_URL",
)
# The instance's own database, read by `dagster.yaml` (`env:` sources).
INSTANCE_DB_ENV = {
    "hostname": "DAGSTER_POSTGRES_HOST",
    "port": "DAGSTER_POSTGRES_PORT",
    "username": "DAGSTER_POSTGRES_USER",
    "password": "DAGSTER_POSTGRES_PASSWORD",
    "db_name": "DAGSTER_POSTGRES_DB",
}

# Run tags naming the API credentials a run uses, and how many runs may share one: every run
# shares the token's rate budget, so more runs only wait on each other; two lets a backfill and
# the incremental schedule overlap (the pools keep one writer per pair).
TOKEN_TAGS = {"webcrm": "sync/webcrm_token", "crmoffice": "sync/crmoffice_client"}
RUNS_PER_TOKEN = 2
MAX_RUN_RETRIES = 2  # a failed run is re-executed from its failure, twice at most
PAIR_POOL_LIMIT = 1  # each pair's pool (`sync_<pair>`): one sink step at a time


def token_key(secret: str) -> str:
    """A non-secret key of a credential: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


def token_tags(env: Mapping[str, str]) -> dict[str, str]:
    """The run tags of the credentials in force (`{"sync/webcrm_token": "3f2a...", ...}`)."""
    values = connection(env)
    return {
        TOKEN_TAGS["webcrm"]: token_key(values["WEBCRM_API_TOKEN"]),
        TOKEN_TAGS["crmoffice"]: token_key(values["CRMOFFICE_CLIENT_ID"]),
    }


def tag_concurrency_limits() -> list[dict[str, Any]]:
    """`RUNS_PER_TOKEN` runs per distinct value of each token tag."""
    return [
        {"key": key, "value": {"applyLimitPerUniqueValue": True}, "limit": RUNS_PER_TOKEN}
        for key in TOKEN_TAGS.values()
    ]


# The QueuedRunCoordinator: runs wait in the queue for their turn. Its limits live under
# `concurrency.runs` (Dagster refuses `tag_concurrency_limits` in `run_coordinator.config` once
# `concurrency.pools` is set, as it is here).
# `dequeue_interval_seconds`: how often the daemon looks at the queue (Dagster's default, 5 s,
# was half of a near-real-time run's fixed cost: issue 12; a look is one indexed query).
DEQUEUE_INTERVAL_SECONDS = 1
RUN_COORDINATOR = {
    "module": "dagster.core.run_coordinator",
    "class": "QueuedRunCoordinator",
    "config": {"dequeue_interval_seconds": DEQUEUE_INTERVAL_SECONDS},
}


def concurrency() -> dict[str, Any]:
    """`concurrency`: the per-pair pools and the runs per token."""
    return {
        "pools": {"default_limit": PAIR_POOL_LIMIT},
        "runs": {"tag_concurrency_limits": tag_concurrency_limits()},
    }


def postgres_db_from_url(url: str) -> dict[str, Any]:
    """`dagster-postgres`' `postgres_db` block for a `postgresql://` URL, psycopg2 scheme."""
    parsed = make_url(url)
    block: dict[str, Any] = {
        "hostname": parsed.host or "localhost",
        "port": parsed.port or 5432,
        "username": parsed.username or "postgres",
        "db_name": parsed.database or "postgres",
        "scheme": POSTGRES_SCHEME,
    }
    if parsed.password:
        block["password"] = parsed.password
    return block


def postgres_db_from_env() -> dict[str, Any]:
    """The `postgres_db` block read from `INSTANCE_DB_ENV` when the instance loads."""
    return {key: {"env": name} for key, name in INSTANCE_DB_ENV.items()} | {
        "scheme": POSTGRES_SCHEME
    }


def instance_settings(
    postgres_db: Mapping[str, Any],
    compute_log_dir: str,
    run_launcher: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The `dagster.yaml` of a production instance; `run_launcher` None keeps Dagster's
    default (runs as processes beside the code server), as `make prod` does."""
    settings: dict[str, Any] = {
        "storage": {"postgres": {"postgres_db": dict(postgres_db)}},
        "run_coordinator": dict(RUN_COORDINATOR),
        "concurrency": concurrency(),
        "compute_logs": {
            "module": "dagster.core.storage.local_compute_log_manager",
            "class": "LocalComputeLogManager",
            "config": {"base_dir": compute_log_dir},
        },
        "run_retries": {"enabled": True, "max_retries": MAX_RUN_RETRIES},
        "telemetry": {"enabled": False},
    }
    if run_launcher is not None:
        settings["run_launcher"] = dict(run_launcher)
    return settings


# Docker Compose (deploy/compose.yaml): the network runs join, and the volumes they share with
# the webserver (compute logs) and with each other (asset values, `SYNC_IO_URL`).
COMPOSE_NETWORK = "sync_pipeline_network"
COMPOSE_CODE_HOST = "sync_pipeline_code"
COMPUTE_LOG_DIR = "/opt/dagster/compute_logs"
VALUES_DIR = "/opt/dagster/values"
COMPOSE_VOLUMES = {
    "sync_pipeline_compute_logs": COMPUTE_LOG_DIR,
    "sync_pipeline_values": VALUES_DIR,
}


def docker_run_launcher() -> dict[str, Any]:
    """`dagster-docker`'s DockerRunLauncher: each run in a container of the code location's
    image, on the compose network, with the instance's and the sync's settings from the
    daemon's environment and the shared volumes."""
    return {
        "module": "dagster_docker",
        "class": "DockerRunLauncher",
        "config": {
            "env_vars": [*INSTANCE_DB_ENV.values(), *SECRET_ENV, *SETTING_ENV],
            "network": COMPOSE_NETWORK,
            "container_kwargs": {
                "volumes": [f"{name}:{path}" for name, path in COMPOSE_VOLUMES.items()]
            },
        },
    }


def compose_instance() -> dict[str, Any]:
    """The `dagster.yaml` of deploy/compose.yaml (checked in as deploy/dagster.yaml)."""
    return instance_settings(postgres_db_from_env(), COMPUTE_LOG_DIR, docker_run_launcher())


def workspace(host: str, port: int) -> dict[str, Any]:
    """`workspace.yaml` naming the code location's gRPC server."""
    return {"load_from": [{"grpc_server": {"host": host, "port": port, "location_name": LOCATION}}]}


COMPOSE_HEADER = """\
# The Dagster instance of deploy/compose.yaml, generated from sync_pipeline/deployment.py
# (`python -m sync_pipeline.deployment deploy`); test_deploy_files.py checks it still matches.
# The same settings as `make prod`'s generated dagster.yaml except the run launcher (Docker here)
# and where PostgreSQL and the compute logs are.
"""
WORKSPACE_HEADER = "# The code location's gRPC server in deploy/compose.yaml (deployment.py).\n"


def write_compose_files(folder: Path) -> None:
    """Write `folder/dagster.yaml` and `folder/workspace.yaml` for deploy/compose.yaml."""
    instance = yaml.safe_dump(compose_instance(), sort_keys=False)
    (folder / "dagster.yaml").write_text(COMPOSE_HEADER + instance)
    workspace_yaml = yaml.safe_dump(workspace(COMPOSE_CODE_HOST, CODE_SERVER_PORT), sort_keys=False)
    (folder / "workspace.yaml").write_text(WORKSPACE_HEADER + workspace_yaml)


if __name__ == "__main__":
    write_compose_files(Path(sys.argv[1] if len(sys.argv) > 1 else "deploy"))
