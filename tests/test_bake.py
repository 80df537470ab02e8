"""Bakes named answer sets and checks each agent: files, lint, parsed configs, imports, pipeline."""

import json
import os
import re
import sys
import xml.etree.ElementTree as ElementTree

import pytest

from tests.conftest import CATALOG, KINDS, provider_bakes, tool

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
    "audio/technical_trouble.wav",
    "tests/test_call.py",
    "tests/simulate.py",
    "tests/audio/question.wav",
    "tests/fakes/twilio_caller.py",
]

# Run inside a baked agent: import bot.py, build its services with fake keys, and assemble the
# pipeline bot() builds, all without touching the network.
BUILD_PIPELINE = """
import asyncio, json, sys
import bot
from providers import create_llm, create_stt, create_tts
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair, LLMUserAggregatorParams)

async def main():
    stt, llm, tts = create_stt(), create_llm(bot.SYSTEM_PROMPT), create_tts()
    user, assistant = LLMContextAggregatorPair(
        LLMContext(), user_params=LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer()))
    Pipeline([stt, user, llm, tts, assistant])
    print(json.dumps([type(stt).__name__, type(llm).__name__, type(tts).__name__]))

asyncio.run(main())
"""


def required_env(project) -> dict[str, str]:
    env = {}
    for kind in KINDS:
        provider = project.provider(kind)
        env[provider["api_key"]] = "fake-key"
        for setting in provider["settings"].values():
            if "default" not in setting:
                env[setting["env"]] = "fake-setting"
    return env


@pytest.mark.parametrize("answers", provider_bakes())
def test_bake_is_valid_and_builds(bake, answers):
    project = bake(**answers)

    for relative in EXPECTED_FILES:
        assert project.has_file(relative), relative
    for path in project.path.rglob("*"):
        if path.is_file() and path.suffix != ".wav":
            assert not re.search(r"\{\{\s*cookiecutter|\{%", path.read_text(errors="ignore")), path

    assert project.run(tool("ruff"), "check", "--no-cache", ".").returncode == 0
    assert project.run(tool("ruff"), "format", "--no-cache", "--check", ".").returncode == 0
    hadolint = project.run(tool("hadolint"), "Dockerfile")
    assert hadolint.returncode == 0, hadolint.stdout

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
        "from_number": "{{From}}",
        "to_number": "{{To}}",
    }

    env_example = project.text(".env.example")
    for name in required_env(project):
        assert re.search(rf"^{name}=$", env_example, re.MULTILINE), name

    env = {**os.environ, **required_env(project), "PYTHON_DOTENV_DISABLED": "1"}
    built = project.run(sys.executable, "-c", BUILD_PIPELINE, env=env)
    assert built.returncode == 0, built.stderr[-3000:]
    assert json.loads(built.stdout.strip().splitlines()[-1]) == [project.provider(k)["class"] for k in KINDS]


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
