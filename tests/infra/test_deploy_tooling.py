"""The deploy path needs only Python and Node: no apt, a pinned CDK CLI in ./node_modules, hash-locked packages.

`make synth|diff|deploy|destroy` must work on macOS or a non-Debian CI, where the test bootstrap (which
apt-installs the CNCF registry) would stop before the CDK CLI runs. These tests read the Makefile's recipes
(`make -n`, which runs nothing) and run scripts/bootstrap.sh in a sandbox whose PATH has no apt-get.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cdk import ROOT

DEPLOY_TARGETS = ("synth", "diff", "deploy", "destroy")
TOOLS = ("bash", "cat", "cut", "sha256sum", "dirname", "id", "node", "mkdir")


def recipe(target: str) -> list[str]:
    """The commands `make TARGET` would run, without running them."""
    # Under `make test` the parent make's MAKEFLAGS (jobserver) would leak into this make: drop them.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}}
    out = subprocess.run(
        ["make", "-n", "-C", str(ROOT), target], check=True, capture_output=True, text=True, timeout=60, env=env
    ).stdout
    return [line for line in out.splitlines() if line.strip() and not line.startswith("make")]


@pytest.mark.parametrize("target", DEPLOY_TARGETS)
def test_deploy_targets_use_only_the_deploy_bootstrap(target: str) -> None:
    commands = recipe(target)
    assert commands[0] == "scripts/bootstrap.sh --deploy"
    assert not [c for c in commands if "apt" in c or "npx" in c or re.search(r"bootstrap\.sh\s*$", c)], commands


def test_deploy_runs_a_diff_before_deploying_with_the_pinned_cli() -> None:
    commands = recipe("deploy")
    diff = next(i for i, c in enumerate(commands) if "node_modules/.bin/cdk diff --all" in c)
    deploy = next(i for i, c in enumerate(commands) if "node_modules/.bin/cdk deploy --all" in c)
    assert diff < deploy


def test_destroy_lists_what_it_keeps_before_and_after() -> None:
    commands = recipe("destroy")
    listing = next(i for i, c in enumerate(commands) if "-m infra.retained" in c)
    destroy = next(i for i, c in enumerate(commands) if "cdk destroy --all" in c)
    assert listing < destroy and "kept.txt" in commands[-1]


@pytest.mark.parametrize("target", ["test", "demo", "lint"])
def test_test_demo_and_lint_still_bootstrap_the_registry(target: str) -> None:
    assert "scripts/bootstrap.sh" in recipe(target)


def test_the_cdk_cli_is_pinned_exactly_and_locked() -> None:
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    pinned = package["devDependencies"]["aws-cdk"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), "an exact version, not a range"
    locked = lock["packages"]["node_modules/aws-cdk"]
    assert locked["version"] == pinned
    assert locked["integrity"].startswith("sha512-")


def test_the_deploy_lock_pins_what_requirements_txt_pins_with_hashes() -> None:
    """Given requirements.txt, when the lock is read, then every pin is there at the same version with hashes."""
    lock_text = (ROOT / "requirements-deploy.lock").read_text()
    entries = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", lock_text, re.MULTILINE))
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pins
    for name, version in pins:
        normalized = re.sub(r"[-_.]+", "-", name).lower()
        found = {re.sub(r"[-_.]+", "-", k).lower(): v for k, v in entries.items()}
        assert found.get(normalized) == version, f"{name}=={version}: re-run scripts/lock_deploy_requirements.py"
    blocks = re.split(r"^(?=[A-Za-z0-9])", lock_text.split("\n", 2)[2], flags=re.MULTILINE)
    assert all("--hash=sha256:" in block for block in blocks if block.strip())


# ---- scripts/bootstrap.sh in a sandbox ----------------------------------------------------------


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A checkout copy whose PATH has the basic tools and recording stubs for apt-get, sudo, npm and pip."""
    for name in ("requirements.txt", "requirements-dev.txt", "requirements-deploy.lock", "package.json"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "package-lock.json", tmp_path / "package-lock.json")
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "bootstrap.sh", tmp_path / "scripts" / "bootstrap.sh")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    for stub in ("apt-get", "sudo", "npm"):
        _stub(bin_dir / stub, tmp_path / "calls.log", stub)
    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(sys.executable)
    _stub(venv_bin / "pip", tmp_path / "calls.log", "pip")
    (tmp_path / "node_modules" / ".bin").mkdir(parents=True)
    _stub(tmp_path / "node_modules" / ".bin" / "cdk", tmp_path / "calls.log", "cdk")
    return tmp_path


def _stub(path: Path, log: Path, name: str) -> None:
    path.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n[ "{name}" != apt-get ]\n')
    path.chmod(0o755)


def run_bootstrap(sandbox: Path, *args: str) -> tuple[int, list[str]]:
    env = {"PATH": str(sandbox / "bin"), "HOME": str(sandbox), "PYTHON": sys.executable}
    result = subprocess.run(
        ["bash", str(sandbox / "scripts" / "bootstrap.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    log = sandbox / "calls.log"
    return result.returncode, log.read_text().splitlines() if log.exists() else []


def test_deploy_bootstrap_installs_the_locked_packages_and_the_cli_without_apt(sandbox: Path) -> None:
    """Given no registry, no apt and nothing installed yet, when bootstrapping for deploy, then pip and npm only."""
    assert shutil.which("docker-registry", path=str(sandbox / "bin")) is None
    code, calls = run_bootstrap(sandbox, "--deploy")
    assert code == 0, calls
    assert [c.split()[0] for c in calls] == ["pip", "npm"]
    assert "--require-hashes -r requirements-deploy.lock" in calls[0]
    assert calls[1].startswith("npm ci")


def test_deploy_bootstrap_is_a_no_op_when_current(sandbox: Path) -> None:
    assert run_bootstrap(sandbox, "--deploy")[0] == 0
    (sandbox / "calls.log").unlink()
    assert run_bootstrap(sandbox, "--deploy") == (0, [])


def test_test_bootstrap_does_reach_for_apt_when_the_registry_is_missing(sandbox: Path) -> None:
    """The counter-check: the same sandbox makes the test bootstrap call apt-get, so the tests above can fail."""
    env_hash = subprocess.run(
        ["bash", "-c", "cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1"],
        cwd=sandbox,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (sandbox / ".venv" / ".requirements.sha256").write_text(env_hash + "\n")
    code, calls = run_bootstrap(sandbox)
    assert code != 0
    assert any(call.startswith("apt-get") for call in calls), calls


def test_bootstrap_rejects_an_unknown_option(sandbox: Path) -> None:
    assert run_bootstrap(sandbox, "--everything")[0] == 2


# ---- docs/DEPLOY.md ------------------------------------------------------------------------------


def test_deploy_guide_stands_alone_and_names_only_real_targets() -> None:
    guide = (ROOT / "docs" / "DEPLOY.md").read_text()
    assert "DESIGN.md" not in guide and "shared/" not in guide
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z-]+):", makefile, re.MULTILINE))
    used = set(re.findall(r"\bmake ([a-z-]+)", guide))
    assert used and used <= targets, used - targets
    for variable in re.findall(r"\bmake [a-z-]+ ([A-Z_]+)=", guide):
        assert re.search(rf"^{variable} \?=", makefile, re.MULTILINE), variable
    for step in ("cdk import", "make destroy", "AWS_DEPLOY_ROLE_ARN", "AWS_PLAN_ROLE_ARN", "required reviewers"):
        assert step in guide, step
