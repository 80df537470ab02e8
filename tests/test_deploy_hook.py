"""`cookiecutter ... deploy=yes`: the post-gen hook runs the agent's deploy.py against a fake Pipecat Cloud.

The real cookiecutter CLI generates over a folder that already holds a filled .env and uv.lock, as a
team does when it regenerates its agent; the real `pipecat cloud` CLI talks to the fake on loopback.
"""

import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, FakePipecatCloud, tool

TOKEN = "pcc-fake-token-hook"
ORGANIZATION = "acme-voice-1234"
SECRETS = {
    "TWILIO_ACCOUNT_SID": "AC" + "7" * 32,
    "TWILIO_AUTH_TOKEN": "s3cr3t-twilio-token",
    "DEEPGRAM_API_KEY": "s3cr3t-deepgram-key",
    "OPENAI_API_KEY": "s3cr3t-openai-key",
    "CARTESIA_API_KEY": "s3cr3t-cartesia-key",
}
SERVICES = f"/v1/organizations/{ORGANIZATION}/services"
LATER = "Deploy later with: cd phone-agent && uv run deploy.py"
LOG_IN = "run `pipecat cloud auth login` or set PIPECAT_TOKEN"
NO_CLI = "the pipecat CLI is not installed: run `uv run deploy.py`, which installs it with the agent"


@pytest.fixture
def cloud(servers):
    fake = FakePipecatCloud(token=TOKEN, provisioning_polls=0, polls_until_ready=0)
    fake.root = servers.serve(fake.app)
    return fake


@pytest.fixture
def output(tmp_path):
    """An output folder whose agent already has its .env and uv.lock."""
    agent = tmp_path / "out" / "phone-agent"
    agent.mkdir(parents=True)
    (agent / ".env").write_text("".join(f"{key}={value}\n" for key, value in SECRETS.items()))
    (agent / "uv.lock").write_text("# stand-in for `uv lock` output\n")
    return agent.parent


def generate(output: Path, cloud, *, stdin=subprocess.DEVNULL, python: str = sys.executable, **env: str):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PIPECAT_", "PCC_"))}
    environment.update(
        {
            "PIPECAT_API_HOST": cloud.root,
            "PIPECAT_TOKEN": TOKEN,
            "PIPECAT_CONFIG_PATH": str(output / "no-cli-config.toml"),
            **env,
        }
    )
    answers = [f"organization={ORGANIZATION}", "deploy=yes"]
    result = subprocess.run(
        [
            python,
            "-m",
            "cookiecutter",
            str(ROOT),
            "--no-input",
            "--overwrite-if-exists",
            "-o",
            str(output),
            *answers,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=stdin,
        env=environment,
    )
    for value in [*SECRETS.values(), TOKEN]:
        assert value not in result.stdout + result.stderr, "a secret value reached the output"
    return result


def assert_deployed(result, cloud) -> None:
    assert result.returncode == 0, result.stderr
    [create] = cloud.requests_to("POST", SERVICES)
    assert create.body["serviceName"] == "phone-agent"
    assert cloud.secret_sets["phone-agent-secrets"]["values"] == SECRETS
    assert (
        '<Parameter name="_pipecatCloudServiceHost" value="phone-agent.acme-voice-1234" />' in result.stdout
    )


def test_without_a_terminal_the_explicit_yes_deploys(output, cloud):
    result = generate(output, cloud)
    assert_deployed(result, cloud)
    assert "Deploy now?" not in result.stdout


@pytest.mark.parametrize("answer", ["y", "n"])
def test_on_a_terminal_the_hook_shows_the_plan_and_asks(output, cloud, answer):
    terminal, keyboard = pty.openpty()
    try:
        os.write(terminal, f"{answer}\n".encode())  # typed ahead: the terminal holds it until read
        result = generate(output, cloud, stdin=keyboard)
    finally:
        os.close(keyboard)
        os.close(terminal)
    assert "Deploy phone-agent to Pipecat Cloud, organization acme-voice-1234" in result.stdout
    assert "Deploy now? [y/N]" in result.stdout
    if answer == "y":
        assert_deployed(result, cloud)
    else:
        assert result.returncode == 0, result.stderr
        assert cloud.requests == []
        assert f"Not deployed: the plan was not confirmed; nothing was changed. {LATER}" in result.stdout


def test_without_a_login_it_generates_and_says_why_not(output, cloud):
    result = generate(output, cloud, PIPECAT_TOKEN="")
    assert result.returncode == 0, result.stderr
    assert (output / "phone-agent" / "bot.py").is_file()
    [line] = [line for line in result.stdout.splitlines() if line.startswith("Not deployed")]
    assert line == f"Not deployed: the pipecat CLI is not logged in: {LOG_IN}. {LATER}"
    assert cloud.requests == []


def test_before_env_is_filled_it_generates_and_says_why_not(tmp_path, cloud):
    result = generate(tmp_path, cloud)
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.startswith("Not deployed")]
    assert line.startswith("Not deployed: .env is missing: cp .env.example .env") and line.endswith(LATER)
    assert cloud.requests == []


def test_without_the_cli_it_generates_and_says_why_not(output, cloud, tmp_path):
    # A machine with cookiecutter but no pipecat CLI, like the README's first command sets up.
    plain = tmp_path / "plain-venv"
    uv = tool("uv")
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(plain)], check=True)
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(plain / "bin" / "python"), "cookiecutter==2.7.1"],
        check=True,
    )
    system_path = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if not shutil.which("pipecat", path=p)
    )
    result = generate(output, cloud, python=str(plain / "bin" / "python"), PATH=system_path)
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.startswith("Not deployed")]
    assert line == f"Not deployed: {NO_CLI}. {LATER}"
    assert cloud.requests == []


def test_a_project_that_fails_validation_is_never_deployed(output, cloud):
    # A module of the team's in the agent folder that ruff refuses fails the hook's validation.
    (output / "phone-agent" / "notes.py").write_text("def unfinished(:\n")
    result = generate(output, cloud)
    assert result.returncode != 0
    assert "failed validation" in result.stderr
    assert cloud.requests == []
