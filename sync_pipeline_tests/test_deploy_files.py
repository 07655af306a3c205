"""The files in `deploy/` name the same image, module, env vars, storage and run limits as
`make prod`'s generated dagster.yaml (all from `sync_pipeline/deployment.py`)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config

from sync_pipeline import deployment
from sync_pipeline.commands.deploy import write_instance

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
IMAGE = f"{deployment.IMAGE}:{deployment.IMAGE_TAG}"
CODE_SERVER = [
    *("dagster", "code-server", "start", "-h", "0.0.0.0"),
    *("-p", str(deployment.CODE_SERVER_PORT), "-m", deployment.MODULE),
]
SYNC_ENV = set(deployment.SECRET_ENV) | set(deployment.SETTING_ENV)
SHARED = ("run_coordinator", "concurrency", "run_retries", "telemetry")


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture
def prod_instance(tmp_path: Path) -> dict[str, Any]:
    """The dagster.yaml `make prod` writes, after Dagster validated it."""
    path = write_instance(tmp_path, "postgresql://sync@127.0.0.1:5432/dagster")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["storage"] == _yaml(path)["storage"]
    data: dict[str, Any] = _yaml(path)
    return data


def _lock(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    pins = (line.split("==") for line in lines if "==" in line)
    return {re.sub(r"[-_.]+", "-", name.lower()): version.strip() for name, version in pins}


def test_prod_instance_is_postgres_through_psycopg2_with_the_limits(
    prod_instance: dict[str, Any],
) -> None:
    """`make prod`: PostgreSQL storage with the psycopg2 scheme, the QueuedRunCoordinator,
    per-token run limits, per-pair pools, compute logs, run retries, no telemetry."""
    db = prod_instance["storage"]["postgres"]["postgres_db"]
    assert db["scheme"] == "postgresql+psycopg2" and db["db_name"] == "dagster"
    assert prod_instance["run_coordinator"]["class"] == "QueuedRunCoordinator"
    limits = prod_instance["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {limit["key"] for limit in limits} == set(deployment.TOKEN_TAGS.values())
    assert all(limit["value"] == {"applyLimitPerUniqueValue": True} for limit in limits)
    assert prod_instance["concurrency"]["pools"] == {"default_limit": 1}
    assert prod_instance["compute_logs"]["class"] == "LocalComputeLogManager"
    assert prod_instance["run_retries"] == {"enabled": True, "max_retries": 2}
    assert prod_instance["telemetry"] == {"enabled": False}


def test_compose_dagster_yaml_is_prods_with_docker_runs(
    prod_instance: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deploy/dagster.yaml is the generated compose instance, valid for Dagster; it shares
    prod's queue, limits, pools, retries and telemetry, and its storage keys and scheme."""
    compose = _yaml(DEPLOY / "dagster.yaml")
    for name in deployment.INSTANCE_DB_ENV.values():
        monkeypatch.setenv(name, "5432" if name.endswith("PORT") else "x")
    (tmp_path / "dagster.yaml").write_text((DEPLOY / "dagster.yaml").read_text())
    dagster_instance_config(str(tmp_path))
    regenerate = "regenerate: python -m sync_pipeline.deployment deploy"
    assert compose == deployment.compose_instance(), regenerate
    assert {key: compose[key] for key in SHARED} == {key: prod_instance[key] for key in SHARED}
    ours, theirs = (c["storage"]["postgres"]["postgres_db"] for c in (compose, prod_instance))
    assert ours.keys() - {"password"} == theirs.keys() - {"password"}
    assert ours["scheme"] == theirs["scheme"]
    assert compose["compute_logs"]["class"] == prod_instance["compute_logs"]["class"]
    launcher = compose["run_launcher"]["config"]
    assert set(launcher["env_vars"]) == SYNC_ENV | set(deployment.INSTANCE_DB_ENV.values())


def test_dockerfile_serves_the_module_on_the_code_server_port() -> None:
    """The image: python:3.11-slim, both locks installed, the code server as its command."""
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.MULTILINE)
    assert "-r requirements.lock -r requirements-deploy.lock" in text
    assert f"EXPOSE {deployment.CODE_SERVER_PORT}" in text
    command = re.search(r"^CMD (.+)$", text, re.MULTILINE)
    assert command is not None and json.loads(command.group(1)) == CODE_SERVER
    assert f"-t {IMAGE} " in text


def test_deploy_lock_adds_the_deploy_extra_without_changing_the_lock() -> None:
    """The `deploy` extra's exact pins are in requirements-deploy.lock, at the version of
    dagster-postgres in the lock, and it pins nothing requirements.lock already pins."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = dict(pin.split("==") for pin in project["optional-dependencies"]["deploy"])
    base, added = _lock(ROOT / "requirements.lock"), _lock(DEPLOY / "requirements-deploy.lock")
    assert extra == {
        "dagster-k8s": base["dagster-postgres"],
        "dagster-docker": base["dagster-postgres"],
    }
    assert all(added[name] == version for name, version in extra.items())
    assert set(base) & set(added) == set()


def test_compose_runs_one_image_on_the_generated_workspace() -> None:
    """compose.yaml: the code location, webserver and daemon all run the image; the code
    server's command, host, network and volumes are deployment.py's; its env file names every
    setting, secret and instance variable."""
    compose = _yaml(DEPLOY / "compose.yaml")
    services = compose["services"]
    code = services[deployment.COMPOSE_CODE_HOST]
    assert code["command"] == CODE_SERVER
    assert code["environment"]["DAGSTER_CURRENT_IMAGE"] == IMAGE
    for name in (deployment.COMPOSE_CODE_HOST, "dagster_webserver", "dagster_daemon"):
        assert services[name]["image"] == IMAGE
        assert services[name]["networks"] == [deployment.COMPOSE_NETWORK]
    for name in ("dagster_webserver", "dagster_daemon"):
        mounts = services[name]["volumes"]
        assert "./dagster.yaml:/opt/dagster/dagster_home/dagster.yaml:ro" in mounts
        assert f"sync_pipeline_compute_logs:{deployment.COMPUTE_LOG_DIR}" in mounts
    assert compose["networks"][deployment.COMPOSE_NETWORK]["name"] == deployment.COMPOSE_NETWORK
    assert {n: compose["volumes"][n]["name"] for n in deployment.COMPOSE_VOLUMES} == {
        n: n for n in deployment.COMPOSE_VOLUMES
    }
    workspace = _yaml(DEPLOY / "workspace.yaml")
    assert workspace == deployment.workspace(deployment.COMPOSE_CODE_HOST, 4000)
    example = (DEPLOY / "sync-pipeline.env.example").read_text()
    names = set(re.findall(r"^([A-Z_]+)=", example, re.MULTILINE))
    assert names >= SYNC_ENV | set(deployment.INSTANCE_DB_ENV.values())


def test_helm_values_name_the_image_module_env_and_limits(prod_instance: dict[str, Any]) -> None:
    """values.yaml for dagster/dagster: our image and module on the code server port, every
    setting as env or in the Secret, psycopg2, K8s runs, prod's queue limits, pools and retries."""
    values = _yaml(DEPLOY / "helm" / "values.yaml")
    (code,) = values["dagster-user-deployments"]["deployments"]
    assert f"{code['image']['repository']}:{code['image']['tag']}" == IMAGE
    assert code["codeServerArgs"] == ["-m", deployment.MODULE]
    assert code["port"] == deployment.CODE_SERVER_PORT
    secret = _yaml(DEPLOY / "helm" / "secret.example.yaml")
    assert [s["name"] for s in code["envSecrets"]] == [secret["metadata"]["name"]]
    assert {e["name"] for e in code["env"]} | set(secret["stringData"]) == SYNC_ENV
    assert set(deployment.SECRET_ENV) <= set(secret["stringData"])
    assert values["postgresql"]["postgresqlScheme"] == deployment.POSTGRES_SCHEME
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    daemon = values["dagsterDaemon"]
    assert daemon["runCoordinator"]["type"] == prod_instance["run_coordinator"]["class"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    interval = prod_instance["run_coordinator"]["config"]["dequeue_interval_seconds"]
    assert queued["dequeueIntervalSeconds"] == interval == deployment.DEQUEUE_INTERVAL_SECONDS
    retries = prod_instance["run_retries"]
    assert daemon["runRetries"] == {"enabled": True, "maxRetries": retries["max_retries"]}
    assert values["additionalInstanceConfig"]["concurrency"] == prod_instance["concurrency"]
    assert values["telemetry"] == prod_instance["telemetry"]
