"""compose.yaml and the README stay true to the settings Amorce reads."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def config_variables() -> set[str]:
    return set(re.findall(r"AMORCE_[A-Z_]+", (ROOT / "webapp" / "config.py").read_text()))


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = sorted(v for v in config_variables() if v not in readme)
    assert not missing, f"README does not list {missing}"


def test_compose_runs_the_whole_stack_with_health_checks() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {
        "web",
        "worker",
        "beat",
        "inbound",
        "redis",
        "postgres",
        "mailcatcher",
        "migrate",
    } <= set(services)
    for name in ("web", "redis", "postgres"):
        assert "healthcheck" in services[name], name
    environment = services["worker"]["environment"]
    for variable in (
        "AMORCE_DATABASE_URL",
        "AMORCE_BROKER_URL",
        "AMORCE_SMTP_URL",
        "AMORCE_BASE_URL",
        "AMORCE_SECRET_KEY",
        "AMORCE_MAIL_FROM",
        "AMORCE_REPLY_DOMAIN",
    ):
        assert variable in environment, variable
    for name in ("web", "beat", "inbound"):
        assert services[name]["environment"] == environment, name


def test_docker_compose_accepts_the_file() -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        import pytest

        pytest.skip("docker-compose is not installed (.ci/run installs it)")
    result = subprocess.run(
        [tool, "-f", str(ROOT / "compose.yaml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
