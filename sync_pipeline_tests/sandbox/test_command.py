"""`sync-pipeline sandbox` as a process: listening fast, clean stop on SIGTERM, usage errors."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sync_pipeline.sandbox.command import build_parser, main, settings_from

MODULE = [sys.executable, "-m", "sync_pipeline.sandbox.command"]
REPO = Path(__file__).resolve().parents[2]


def test_listens_within_5_seconds_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """With --seed 200 both APIs answer within 5 s; SIGTERM exits 0 and flushes --data-dir."""
    ports = ["--webcrm-port", "0", "--crmoffice-port", "0"]
    argv = [*MODULE, "--seed", "200", *ports, "--data-dir", str(tmp_path)]
    started = time.monotonic()
    process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        announced = [process.stdout.readline() for _ in range(10)]
        urls = re.findall(r"^\w+ sandbox: +(http://\S+)$", "".join(announced), re.MULTILINE)
        assert len(urls) == 2
        for url in urls:
            assert httpx.get(f"{url}/_sandbox/stats").status_code == 200
        assert time.monotonic() - started < 5.0
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
    text = "".join(announced)
    for variable in ("WEBCRM_BASE_URL", "CRMOFFICE_BASE_URL", "CRMOFFICE_CLIENT_ID"):
        assert f"export {variable}=" in text
    assert "WEBCRM_API_TOKEN=sandbox-webcrm-token" in text
    assert "CRMOFFICE_CLIENT_SECRET=sandbox-secret" in text
    assert (tmp_path / "webcrm.json").exists() and (tmp_path / "crmoffice.json").exists()


def test_usage_error_exits_2_as_a_process() -> None:
    """A usage error ends the process with status 2 and a usage line."""
    result = subprocess.run(
        [*MODULE, "--seed", "5", "--empty"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 2 and "usage:" in result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["--host", "0.0.0.0"],
        ["--host", "example.org"],
        ["--fault-rate", "2"],
        ["--webcrm-port", "x"],
        ["--seed", "-1"],
        ["--crmoffice-max-page-size", "0"],
    ],
)
def test_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Non-loopback hosts and out-of-range numbers are usage errors (exit 2)."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2 and "usage:" in capsys.readouterr().err


def test_flags_map_to_settings() -> None:
    """Every documented flag lands in SandboxSettings; the default is --seed 200."""
    parser = build_parser()
    assert settings_from(parser.parse_args([])).seed == 200
    flags = "--host ::1 --webcrm-port 1 --crmoffice-port 2 --empty --data-dir d"
    flags += " --webcrm-rate-limit 3 --crmoffice-rate-limit 4 --fault-rate 0.5 --fault-seed 6"
    flags += " --fault-stall 7 --token-ttl 8 --crmoffice-max-page-size 10"
    args = parser.parse_args(flags.split(" "))
    settings = settings_from(args)
    assert (settings.host, settings.webcrm_port, settings.crmoffice_port) == ("::1", 1, 2)
    assert (settings.empty, settings.seed, settings.data_dir) == (True, None, "d")
    assert (settings.webcrm_rate_limit, settings.crmoffice_rate_limit) == (3, 4)
    assert (settings.fault_rate, settings.fault_seed, settings.fault_stall_seconds) == (0.5, 6, 7.0)
    assert settings.token_ttl == 8.0
    assert settings.crmoffice_max_page_size == 10
    assert settings_from(parser.parse_args([])).crmoffice_max_page_size is None
