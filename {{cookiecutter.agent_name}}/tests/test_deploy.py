"""deploy.py drives the real `pipecat cloud` CLI against a fake Pipecat Cloud API on loopback.

Each test deploys a copy of this agent with its own .env, so a developer's real .env is never read
or changed. Every output of every run is checked for the fake secret values.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from phone import twiml
from settings import ALL_SETTINGS, REQUIRED_SETTINGS
from tests.fakes.background import BackgroundServers
from tests.fakes.pipecat_cloud_api import CloudFailure, FakePipecatCloud
from tests.harness import AGENT_DIR

TOKEN = "pcc-fake-token-2f9c"
ORGANIZATION = "acme-voice-1234"
SECRETS = {name: f"s3cr3t-{name.lower().replace('_', '-')}-value" for name in REQUIRED_SETTINGS}
DEPLOY_CONFIG = tomllib.loads((AGENT_DIR / "pcc-deploy.toml").read_text())
AGENT_NAME = DEPLOY_CONFIG["agent_name"]
SECRET_SET = DEPLOY_CONFIG["secret_set"]
SERVICES = f"/v1/organizations/{ORGANIZATION}/services"
SECRET_SET_PATH = f"/v1/organizations/{ORGANIZATION}/secrets/{SECRET_SET}"


@pytest.fixture(scope="module")
def servers():
    background = BackgroundServers()
    yield background
    background.close()


@pytest.fixture
def cloud(servers):
    # Instant by default; the first test below turns the provisioning and readiness waits on.
    fake = FakePipecatCloud(token=TOKEN, provisioning_polls=0, polls_until_ready=0)
    fake.root = servers.serve(fake.app)
    return fake


@pytest.fixture
def project(tmp_path):
    """A copy of this agent with a filled .env, deployed to ORGANIZATION."""
    copy = tmp_path / AGENT_NAME
    skip = shutil.ignore_patterns(".venv", ".env", "tests", "__pycache__", ".pytest_cache", ".ruff_cache")
    shutil.copytree(AGENT_DIR, copy, ignore=skip)
    twiml_file = copy / "phone" / "twiml.py"
    organization_line = f'ORGANIZATION = "{ORGANIZATION}"'
    twiml_file.write_text(
        re.sub(r"^ORGANIZATION = .*$", organization_line, twiml_file.read_text(), flags=re.M)
    )
    lines = [f"{name}={value}" for name, value in SECRETS.items()]
    # An optional value left empty and a commented one: neither may reach the secret set.
    (copy / ".env").write_text("# filled in from .env.example\n" + "\n".join(lines) + "\nEMPTY_OPTION=\n")
    # The Bins in twiml/ follow phone/twiml.py, as the README says after a change of organization.
    subprocess.run([sys.executable, "-m", "commands.twiml_bins"], cwd=copy, check=True, capture_output=True)
    if not (copy / "uv.lock").exists():
        # The image build reads uv.lock; the fake build only needs the file to be in the context.
        (copy / "uv.lock").write_text("# stand-in for `uv lock` output\n")
    return copy


def run_deploy(project: Path, cloud: FakePipecatCloud, *args: str, python: str = sys.executable, **env: str):
    """Runs deploy.py like a developer would, and checks that no output holds a secret value."""
    # A developer's own login or debug logging must not leak in; debug logging is on to prove it stays off.
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PIPECAT_", "PCC_"))}
    env = {
        **base,
        "PIPECAT_TOKEN": TOKEN,
        "PIPECAT_CONFIG_PATH": str(project.parent / "no-cli-config.toml"),
        "PIPECAT_CLI_LOG_LEVEL": "DEBUG",
        "PIPECAT_API_HOST": cloud.root,
        **env,
    }
    result = subprocess.run(
        [python, "deploy.py", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=180,
    )
    for value in [*SECRETS.values(), TOKEN]:
        assert value not in result.stdout + result.stderr, "a secret value reached the output"
    assert "Traceback" not in result.stderr
    return result


def one_error_line(result) -> str:
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_deploy_creates_the_agent_then_updates_it(project, cloud):
    cloud.provisioning_polls = cloud.polls_until_ready = 1
    first = run_deploy(project, cloud, "--yes")
    assert first.returncode == 0, first.stderr

    puts = cloud.requests_to("PUT", SECRET_SET_PATH)
    assert [(put.body["secretKey"], put.body["region"]) for put in puts] == [
        (name, DEPLOY_CONFIG["region"]) for name in SECRETS
    ]
    assert all(put.body["secretValue"] for put in puts)
    assert cloud.secret_sets[SECRET_SET]["values"] == SECRETS
    [create] = cloud.requests_to("POST", SERVICES)
    assert not cloud.requests_to("PUT", SERVICES)
    assert create.body["serviceName"] == AGENT_NAME
    assert create.body["secretSet"] == SECRET_SET
    assert create.body["region"] == DEPLOY_CONFIG["region"]
    assert create.body["agentProfile"] == DEPLOY_CONFIG["agent_profile"]
    scaling = DEPLOY_CONFIG["scaling"]
    assert create.body["autoScaling"] == {
        "minAgents": scaling["min_agents"],
        "maxAgents": scaling["max_agents"],
    }
    assert create.body["buildId"].startswith("build-")
    # Krisp VIVA as pcc-deploy.toml asks for it (noise_filter=krisp), or none.
    krisp = DEPLOY_CONFIG.get("krisp_viva", {}).get("audio_filter")
    assert create.body.get("krispViva") == ({"audioFilter": krisp} if krisp else {})  # the CLI drops a None
    # The set was waited for until provisioned, and the agent polled until ready.
    first_deploy = cloud.requests.index(create)
    set_polls = [r for r in cloud.requests[:first_deploy] if r.method == "GET" and r.path == SECRET_SET_PATH]
    assert len(set_polls) >= 3  # the existing-set lookup, "pending", then "ready"
    status_polls = cloud.requests_to("GET", f"{SERVICES}/{AGENT_NAME}")[1:]
    assert len(status_polls) == 2  # "progressing", then "ready"
    assert "Waiting for deployment to become ready" in first.stdout
    assert f"{SECRET_SET} is being provisioned" in first.stdout
    # The image build got the code, never the .env or a secret.
    context = cloud.uploaded_files()
    assert "bot.py" in context and "Dockerfile" in context and "uv.lock" in context
    assert not any(name.startswith(".env") for name in context)
    assert not any(value.encode() in content for value in SECRETS.values() for content in context.values())
    # The exact TwiML Bin, and what is left to do.
    assert (project / "twiml" / "inbound.xml").read_text() in first.stdout
    assert f"{ORGANIZATION}" in first.stdout and "Call the number" in first.stdout

    # A second run replaces the set (a key no longer in .env is removed) and updates the agent.
    cloud.add_secret_set(SECRET_SET, DEPLOY_CONFIG["region"], OLD_KEY="from-an-earlier-env")
    cloud.requests.clear()
    second = run_deploy(project, cloud, "--yes")
    assert second.returncode == 0, second.stderr
    assert [r.path for r in cloud.requests_to("DELETE", SECRET_SET_PATH)] == [f"{SECRET_SET_PATH}/OLD_KEY"]
    assert cloud.secret_sets[SECRET_SET]["values"] == SECRETS
    [update] = cloud.requests_to("PUT", SERVICES)
    assert not cloud.requests_to("POST", SERVICES)
    assert update.body["serviceName"] == AGENT_NAME and update.body["secretSet"] == SECRET_SET


def test_dry_run_prints_the_plan_and_changes_nothing(project, cloud):
    before = tree_digest(project)
    result = run_deploy(project, cloud, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert cloud.requests == []
    assert tree_digest(project) == before
    assert f"pipecat cloud secrets set {SECRET_SET}" in result.stdout
    assert "pipecat cloud deploy --yes --force" in result.stdout
    assert "EMPTY_OPTION" not in result.stdout
    assert "nothing was uploaded or deployed" in result.stdout


def ci_checkout(project: Path, tmp_path: Path) -> dict[str, str]:
    """Makes the copy a CI checkout, with no .env; returns CI's environment: a token and no CLI config."""
    (project / ".env").unlink()
    home = tmp_path / "ci-home"
    home.mkdir()
    return {"HOME": str(home), "PIPECAT_CONFIG_PATH": ""}


def test_keep_secret_set_deploys_from_ci_with_only_a_token(project, cloud, tmp_path):
    # Still being provisioned: "pending" to the lookup and to the first wait.
    cloud.add_secret_set(SECRET_SET, DEPLOY_CONFIG["region"], **SECRETS)["pending_polls"] = 2
    env = ci_checkout(project, tmp_path)
    result = run_deploy(project, cloud, "--yes", "--keep-secret-set", **env)
    assert result.returncode == 0, result.stderr

    assert not cloud.requests_to("PUT", SECRET_SET_PATH) and not cloud.requests_to("DELETE", SECRET_SET_PATH)
    assert cloud.secret_sets[SECRET_SET]["values"] == SECRETS
    [create] = cloud.requests_to("POST", SERVICES)
    assert create.body["serviceName"] == AGENT_NAME and create.body["secretSet"] == SECRET_SET
    # The set was waited for until provisioned, before the deploy.
    assert f"{SECRET_SET} is being provisioned" in result.stdout
    set_polls = [r for r in cloud.requests[: cloud.requests.index(create)] if r.path == SECRET_SET_PATH]
    assert len(set_polls) >= 3  # the lookup, "pending", then "ready"
    assert "Call the number" in result.stdout
    # The token from the environment was enough: the CLI wrote no config of its own.
    assert list(Path(env["HOME"]).iterdir()) == []


@pytest.mark.parametrize(
    "stored, expected",
    [
        pytest.param(
            None,
            rf"secret set {SECRET_SET} does not exist on Pipecat Cloud: run `uv run deploy.py` once from a "
            r"machine with a filled \.env",
            id="missing",
        ),
        pytest.param(
            dict(list(SECRETS.items())[:-1], OPTIONAL_KEY="set-earlier"),
            rf"secret set {SECRET_SET} lacks {REQUIRED_SETTINGS[-1]}: run `uv run deploy.py`",
            id="lacking-a-required-key",
        ),
        pytest.param("elsewhere", r"secret set \S+ is in \S+, not ", id="another-region"),
    ],
)
def test_keep_secret_set_deploys_nothing_without_a_usable_set(project, cloud, tmp_path, stored, expected):
    if stored == "elsewhere":
        region = next(r for r in cloud.regions if r != DEPLOY_CONFIG["region"])
        cloud.add_secret_set(SECRET_SET, region, **SECRETS)
    elif stored is not None:
        cloud.add_secret_set(SECRET_SET, DEPLOY_CONFIG["region"], **stored)
    result = run_deploy(project, cloud, "--yes", "--keep-secret-set", **ci_checkout(project, tmp_path))
    line = one_error_line(result)
    assert re.search(expected, line), line
    assert {r.method for r in cloud.requests} == {"GET"}  # nothing uploaded, built or deployed
    assert not cloud.requests_to("GET", SERVICES)


def test_dry_run_with_keep_secret_set_changes_nothing(project, cloud, tmp_path):
    env = ci_checkout(project, tmp_path)
    before = tree_digest(project)
    result = run_deploy(project, cloud, "--dry-run", "--keep-secret-set", **env)
    assert result.returncode == 0, result.stderr
    assert cloud.requests == []
    assert tree_digest(project) == before
    assert f"keep the secret set {SECRET_SET} as it is on Pipecat Cloud (.env is not read)" in result.stdout
    assert f"pipecat cloud secrets list {SECRET_SET}" in result.stdout
    assert "secrets set" not in result.stdout
    assert "pipecat cloud deploy --yes --force" in result.stdout
    assert "nothing was uploaded or deployed" in result.stdout


def test_an_image_option_deploys_from_the_registry_without_a_build(project, cloud):
    image = "registry.example.com/acme/phone-agent:1.0"
    result = run_deploy(project, cloud, "--yes", "--image", image)
    assert result.returncode == 0, result.stderr
    [create] = cloud.requests_to("POST", SERVICES)
    assert create.body["image"] == image and "buildId" not in create.body
    assert cloud.uploads == [] and not cloud.requests_to("POST", "/builds")


@pytest.mark.parametrize(
    "failure, expected",
    [
        pytest.param(None, r"refused the login \(401\).*auth login", id="401-bad-token"),
        pytest.param("locked", r"pending change.*\(409\); run `uv run deploy.py`", id="409-pending-set"),
        pytest.param(CloudFailure(f"POST {SERVICES}", 503, "Service unavailable"), r"failed \(503", id="5xx"),
        pytest.param(
            CloudFailure(f"PUT {SECRET_SET_PATH}", None, delay=60),
            r"no result within 8 s; safe to run `uv run deploy.py`",
            id="hang",
        ),
    ],
)
def test_an_api_failure_is_one_line_and_a_non_zero_exit(project, cloud, failure, expected):
    env = {}
    if failure is None:
        env["PIPECAT_TOKEN"] = "pcc-revoked-token"
    elif failure == "locked":
        cloud.add_secret_set(SECRET_SET, DEPLOY_CONFIG["region"], locked=True)
    else:
        cloud.failure = failure
    # A short deadline only where the API hangs, so the other failures are never a timeout instead.
    deadline = "8" if isinstance(failure, CloudFailure) and failure.status is None else "120"
    line = one_error_line(run_deploy(project, cloud, "--yes", "--timeout", deadline, **env))
    assert re.search(expected, line), line


def test_without_a_terminal_it_deploys_only_with_yes(project, cloud):
    line = one_error_line(run_deploy(project, cloud))
    assert "--yes" in line
    assert cloud.requests == []


@pytest.mark.parametrize(
    "break_it, expected",
    [
        pytest.param(lambda p: (p / ".env").unlink(), r"\.env is missing: cp \.env\.example", id="no-env"),
        pytest.param(
            lambda p: (p / ".env").write_text(f"{REQUIRED_SETTINGS[-1]}=\n"),
            rf"{REQUIRED_SETTINGS[0]}.* not set in \.env",
            id="empty-required",
        ),
        pytest.param(
            lambda p: (p / "phone" / "twiml.py").write_text(
                (p / "phone" / "twiml.py").read_text().replace(ORGANIZATION, twiml.PLACEHOLDER_ORGANIZATION)
            ),
            rf"placeholder '{twiml.PLACEHOLDER_ORGANIZATION}': set ORGANIZATION in phone/twiml\.py",
            id="placeholder-organization",
        ),
        pytest.param(lambda p: (p / "uv.lock").unlink(), r"uv\.lock is missing: .*uv lock", id="no-lockfile"),
        # A secret pasted without its name: named by its line, never echoed (run_deploy checks the output).
        pytest.param(
            lambda p: (p / ".env").write_text(
                (p / ".env").read_text() + SECRETS[REQUIRED_SETTINGS[-1]] + "\n"
            ),
            r"\.env line \d+ is not KEY=value: fix it",
            id="value-without-a-name",
        ),
        pytest.param(
            lambda p: (p / ".env").write_text(f'{(p / ".env").read_text()}EXTRA_KEY="never closed\n'),
            r"\.env line \d+ is not KEY=value: fix it",
            id="unclosed-quote",
        ),
    ],
)
def test_a_project_not_ready_to_deploy_is_one_line(project, cloud, break_it, expected):
    break_it(project)
    line = one_error_line(run_deploy(project, cloud, "--yes"))
    assert re.search(expected, line), line
    assert cloud.requests == []


def test_without_a_login_it_says_how_to_log_in(project, cloud):
    line = one_error_line(run_deploy(project, cloud, "--yes", PIPECAT_TOKEN=""))
    assert "pipecat cloud auth login" in line
    assert cloud.requests == []


def test_without_the_cli_it_says_how_to_get_it(project, cloud, tmp_path):
    # A Python with no `pipecat` beside it or on PATH.
    bare = tmp_path / "bare-bin"
    bare.mkdir()
    (bare / "python").symlink_to(sys.executable)
    line = one_error_line(run_deploy(project, cloud, "--yes", python=str(bare / "python"), PATH=str(bare)))
    assert "pipecat CLI is not installed: run `uv run deploy.py`" in line
    assert cloud.requests == []


def test_env_example_lists_every_setting_with_its_default():
    lines = (AGENT_DIR / ".env.example").read_text().splitlines()
    listed = {}
    for comment, line in zip(lines, lines[1:], strict=False):
        if match := re.fullmatch(r"# (required|optional)(?:, default (.+?))?: .+", comment):
            listed[line.removeprefix("# ").removesuffix("=")] = (match[1] == "required", match[2] or "")
    assert listed == {setting.name: (setting.required, setting.default) for setting in ALL_SETTINGS}
    for name in REQUIRED_SETTINGS:
        assert f"{name}=" in lines  # to be filled in, not commented out
