"""Bakes named answer sets and checks each agent: files, lint, parsed configs, imports, pipeline."""

import os
import re
import sys
import xml.etree.ElementTree as ElementTree

import pytest

from tests.conftest import CATALOG, KINDS, provider_bakes

EXPECTED_FILES = [
    "bot.py",
    "providers.py",
    "twilio_stream.py",
    "env_settings.py",
    "system_prompt.txt",
    "twiml/inbound.xml",
    "Dockerfile",
    ".dockerignore",
    "pcc-deploy.toml",
    "pyproject.toml",
    ".env.example",
    ".gitignore",
    "README.md",
    "call_control.py",
    "reply_guard.py",
    "caller_audio.py",
    "warm_up.py",
    "pipeline_once.py",
    "audio/technical_trouble.wav",
    "tests/test_call.py",
    "tests/simulate.py",
    "tests/audio/question.wav",
    "tests/fakes/twilio_caller.py",
    "twiml.py",
    "twilio_calls.py",
    "number_setup.py",
]


@pytest.mark.parametrize("answers", provider_bakes())
def test_bake_is_valid_and_builds(bake, answers):
    project = bake(**answers)

    for relative in EXPECTED_FILES:
        assert project.has_file(relative), relative
    for path in project.path.rglob("*"):
        if path.is_file() and path.suffix != ".wav":
            assert not re.search(r"\{\{\s*cookiecutter|\{%", path.read_text(errors="ignore")), path

    project.assert_lint_clean()

    pyproject = project.toml("pyproject.toml")
    extras = re.search(r"pipecat-ai\[([^\]]+)\]", pyproject["project"]["dependencies"][0]).group(1).split(",")
    assert sorted(extras) == sorted({"runner", "websocket"} | {project.provider(k)["extra"] for k in KINDS})

    deploy = project.toml("pcc-deploy.toml")
    assert deploy["agent_name"] == answers["agent_name"]
    assert deploy["region"] == answers["region"]
    assert deploy["secret_set"] == f"{answers['agent_name']}-secrets"

    stream = ElementTree.parse(project.path / "twiml" / "inbound.xml").getroot().find("Connect/Stream")
    region_prefix = "" if answers["region"] == "us-west" else f"{answers['region']}."
    assert stream.get("url") == f"wss://{region_prefix}api.pipecat.daily.co/ws/twilio"
    parameters = {p.get("name"): p.get("value") for p in stream.iter("Parameter")}
    assert parameters == {
        "_pipecatCloudServiceHost": f"{answers['agent_name']}.your-organization",
        "direction": "inbound",
        "from_number": "{{From}}",
        "to_number": "{{To}}",
    }

    env_example = project.text(".env.example")
    for name in project.required_env():
        assert re.search(rf"^{name}=$", env_example, re.MULTILINE), name

    assert project.built_services() == [project.provider(k)["class"] for k in KINDS]


def test_deploy_config_loads_with_pipecatcloud(bake, monkeypatch):
    project = bake(agent_name="loader-check", region="eu-central", min_agents="0")
    import pipecatcloud.cli.config as cli_config
    from pipecatcloud._utils.deploy_utils import load_deploy_config_file

    monkeypatch.setattr(cli_config, "deploy_config_path", str(project.path / "pcc-deploy.toml"))
    config = load_deploy_config_file()
    assert config is not None
    assert config.agent_name == "loader-check"
    assert config.secret_set == "loader-check-secrets"
    assert config.region == "eu-central"
    assert config.agent_profile == "agent-1x"
    assert config.scaling.min_agents == 0


def test_system_prompt_with_quotes_and_newlines_reaches_the_bot_exactly(bake):
    prompt = 'Say "hi" to Bob\'s callers.\nNever close a </Stream> tag or write """ in code.'
    project = bake(system_prompt=prompt)
    loaded = project.run(
        sys.executable,
        "-c",
        "import bot; print(repr(bot.SYSTEM_PROMPT))",
        env={**os.environ, "PYTHON_DOTENV_DISABLED": "1"},
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == repr(prompt)


def test_every_provider_is_baked():
    baked = {kind: set() for kind in KINDS}
    for param in provider_bakes():
        for kind in KINDS:
            baked[kind].add(param.values[0][kind])
    assert baked == {kind: set(CATALOG[kind]) for kind in KINDS}
