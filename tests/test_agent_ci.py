"""Each agent's CI workflow (the `ci` question) and its pre-commit hooks, checked with the tools GitHub and
pre-commit themselves use: check-jsonschema's GitHub-workflow schema, actionlint, and `pre-commit run`."""

import filecmp
import os
import re
import secrets

import yaml

from tests.conftest import GIT_IDENTITY, ROOT, commit_all, run_checked, tool

WORKFLOW = ".github/workflows/ci.yml"
TEMPLATE_WORKFLOW = ROOT / "{{cookiecutter.agent_name}}" / WORKFLOW
# Words only the CI option brings into an agent.
CI_WORDS = re.compile(r"GitHub Actions|\.github/|workflow|actionlint|pull request", re.IGNORECASE)


def test_the_workflow_is_valid_and_its_expressions_survive_rendering(bake):
    agent = bake(ci="yes")
    rendered = (agent.path / WORKFLOW).read_bytes()
    # cookiecutter copies the workflow without rendering it (_copy_without_render): byte for byte.
    assert rendered == TEMPLATE_WORKFLOW.read_bytes()
    assert b"PIPECAT_TOKEN: ${{ secrets.PIPECAT_TOKEN }}\n" in rendered
    schema = agent.run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", WORKFLOW)
    assert schema.returncode == 0, schema.stdout + schema.stderr
    actionlint = agent.run(tool("actionlint"), WORKFLOW)
    assert actionlint.returncode == 0, actionlint.stdout + actionlint.stderr

    workflow = yaml.safe_load(rendered)
    # PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as "on".
    assert workflow[True] == {"pull_request": None, "push": {"branches": ["main"]}}
    assert workflow["permissions"] == {"contents": "read"}
    test, deploy = workflow["jobs"]["test"], workflow["jobs"]["deploy"]
    test_commands = [step["run"] for step in test["steps"] if "run" in step]
    assert test_commands == [
        "uv sync --locked",
        "uv run pre-commit run --all-files --show-diff-on-failure",
        "uv run pytest",
    ]
    assert "if" not in test and "secrets." not in str(test)
    # The deploy runs on a push to main only, after the tests, and is the one place the token appears.
    assert deploy["needs"] == "test"
    assert deploy["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    deploy_steps = [step for step in deploy["steps"] if "run" in step]
    assert [step["run"] for step in deploy_steps] == [
        "uv sync --locked",
        "uv run deploy.py --yes --keep-secret-set",
    ]
    assert deploy_steps[-1]["env"] == {"PIPECAT_TOKEN": "${{ secrets.PIPECAT_TOKEN }}"}
    assert re.findall(rb"secrets\.\w+", rendered) == [b"secrets.PIPECAT_TOKEN"]


def test_ci_no_leaves_no_trace(bake):
    with_ci, without_ci = bake(agent_name="with-ci", ci="yes"), bake(agent_name="without-ci", ci="no")
    assert not (without_ci.path / ".github").exists()
    files = {path.relative_to(without_ci.path).as_posix() for path in without_ci.files()}
    assert files == {path.relative_to(with_ci.path).as_posix() for path in with_ci.files()} - {WORKFLOW}
    for relative in sorted(files):
        assert not CI_WORDS.search(without_ci.text(relative)), relative
    # Apart from the agent's name, only the files that describe the workflow differ.
    differing = {
        relative
        for relative in files
        if not filecmp.cmp(with_ci.path / relative, without_ci.path / relative, shallow=False)
        and with_ci.text(relative).replace("with-ci", "without-ci") != without_ci.text(relative)
    }
    assert differing == {".pre-commit-config.yaml", "README.md"}


def test_turning_ci_off_over_an_agent_keeps_the_teams_own_github_files(tmp_path):
    generate = [tool("cookiecutter"), str(ROOT), "--no-input", "--overwrite-if-exists", "-o", str(tmp_path)]
    run_checked([*generate, "ci=yes"], tmp_path)
    dependabot = tmp_path / "phone-agent" / ".github" / "dependabot.yml"
    dependabot.write_text("version: 2\n")
    run_checked([*generate, "ci=no"], tmp_path)
    assert not (tmp_path / "phone-agent" / WORKFLOW).exists()
    assert not (tmp_path / "phone-agent" / ".github" / "workflows").exists()
    assert dependabot.read_text() == "version: 2\n"


def test_pre_commit_passes_in_a_fresh_agent_and_catches_a_secret_and_a_bad_bin(bake, pre_commit_home):
    agent = bake(ci="yes", call_transfer="yes", call_recording="yes")
    commit_all(agent.path, "a fresh agent")
    command = [tool("pre-commit"), "run", "--all-files"]
    env = {**os.environ, "PRE_COMMIT_HOME": pre_commit_home}
    passed = agent.run(*command, timeout=600, env=env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    for hook in ("ruff check", "hadolint", "TwiML Bins and pcc-deploy.toml", "actionlint", "detect secrets"):
        assert re.search(rf"^{re.escape(hook)}.*Passed$", passed.stdout, re.MULTILINE), passed.stdout

    # A Twilio auth token (32 hex digits, made here so that no file of this repository holds one).
    (agent.path / "phone" / "credentials.py").write_text(f'TWILIO_AUTH_TOKEN = "{secrets.token_hex(16)}"\n')
    run_checked(["git", "add", "-A"], agent.path)
    run_checked(["git", *GIT_IDENTITY, "commit", "-q", "-m", "a leaked token"], agent.path)
    leaked = agent.run(*command, timeout=600, env=env)
    assert leaked.returncode == 1
    assert re.search(r"^detect secrets\.+Failed$", leaked.stdout, re.MULTILINE), leaked.stdout
    assert "Location:    phone/credentials.py:1" in leaked.stdout

    run_checked(["git", "rm", "-q", "phone/credentials.py"], agent.path)
    inbound = agent.path / "twiml" / "inbound.xml"
    inbound.write_text(inbound.read_text().replace("api.pipecat.daily.co", "example.com"))
    run_checked(["git", "add", "-A"], agent.path)
    stale_bin = agent.run(*command, timeout=600, env=env)
    assert stale_bin.returncode == 1
    assert "error: twiml/inbound.xml differs from what phone/twiml.py writes" in stale_bin.stdout
