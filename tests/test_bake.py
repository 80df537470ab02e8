"""Bakes named answer sets and checks each agent: files, lint, parsed configs, imports, pipeline."""

import importlib.util
import os
import re
import sys
import xml.etree.ElementTree as ElementTree

import pytest

from tests.conftest import BUILD_CHECKS, CATALOG, COOKIECUTTER, KINDS, provider_bakes, required_settings

# The layout every agent has, whatever its options: one folder per role.
EXPECTED_FILES = [
    "bot.py",
    "settings.py",
    "deploy.py",
    "server.py",
    "phone/stream.py",
    "phone/caller_check.py",
    "phone/rest.py",
    "phone/twiml.py",
    "phone/numbers.py",
    "voice/providers.py",
    "voice/pipeline.py",
    "voice/greeting.py",
    "voice/reply_guard.py",
    "call_control/end_call.py",
    "startup/process.py",
    "phrases/__init__.py",
    "phrases/system_prompt.txt",
    "phrases/technical_trouble.wav",
    "commands/number_setup.py",
    "commands/simulate.py",
    "commands/twiml_bins.py",
    "twiml/inbound.xml",
    "Dockerfile",
    ".dockerignore",
    "pcc-deploy.toml",
    "pyproject.toml",
    ".env.example",
    ".gitignore",
    "README.md",
    "tests/test_call.py",
    "tests/audio/question.wav",
    "tests/fakes/twilio_caller.py",
]
# At most this many Python files beside bot.py at the top: the rest lives in folders named for their roles.
MAX_TOP_LEVEL_MODULES = 5


def load_module(path):
    """A baked module that needs only the standard library, loaded in this process."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("answers, mode", provider_bakes())
def test_bake_is_valid_builds_and_converses(bake, answers, mode):
    """Every provider is in one of these bakes; its id says how the agent's tests fake each, e.g.
    `stt=gladia(factory)`."""
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
    assert deploy["scaling"] == {
        "min_agents": int(COOKIECUTTER["min_agents"]),
        "max_agents": int(COOKIECUTTER["max_agents"]),
    }

    # The agent's own test_twiml (in BUILD_CHECKS) checks each region's URL against Pipecat Cloud's docs.
    twiml = load_module(project.path / "phone" / "twiml.py")
    assert (twiml.REGION, twiml.AGENT_NAME) == (answers["region"], answers["agent_name"])
    stream = ElementTree.parse(project.path / "twiml" / "inbound.xml").getroot().find("Connect/Stream")
    assert stream.get("url") == twiml.STREAM_URL
    parameters = {p.get("name"): p.get("value") for p in stream.iter("Parameter")}
    assert parameters == {
        "_pipecatCloudServiceHost": f"{answers['agent_name']}.{COOKIECUTTER['_placeholder_organization']}",
        "direction": "inbound",
        "from_number": "{{From}}",
        "to_number": "{{To}}",
    }

    # Every key and setting the catalog says the chosen providers require, to be filled in.
    env_example = project.text(".env.example")
    for kind in KINDS:
        for name in required_settings(project.provider(kind)):
            assert re.search(rf"^{name}=$", env_example, re.MULTILINE), name

    top_level = sorted(path.name for path in project.path.glob("*.py") if path.name != "bot.py")
    assert len(top_level) <= MAX_TOP_LEVEL_MODULES, top_level

    # Each factory builds the catalog's class; the agent's own checks then build it for real, offline.
    factories = dict(
        re.findall(r"def create_(stt|llm|tts)\(self\) -> (\w+):", project.text("voice/providers.py"))
    )
    assert factories == {kind: project.provider(kind)["class"] for kind in KINDS}
    # Built offline, then a conversation against the fakes, in one run of the agent's tests.
    conversation = f"tests/test_call.py::test_conversation[{mode}]"
    output = project.run_agent_suite("-n", "0", "-rA", *BUILD_CHECKS, conversation)
    assert f"PASSED {conversation}" in output.stdout


def test_deploy_config_loads_with_pipecatcloud(bake, monkeypatch):
    project = bake(
        agent_name="loader-check", region="eu-central", min_agents="0", max_agents="3", max_call_minutes="238"
    )
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
    # Also what `pipecat cloud deploy` sends as the pool's cap.
    assert config.scaling.max_agents == 3
    # The longest call the template accepts, plus the margin to end it: Pipecat Cloud's own cap, 4 hours.
    assert config.max_session_duration == 238 * 60 + 120 == 14400
    assert "# optional, default 14280: the longest a call lasts" in project.text(".env.example")


def test_system_prompt_with_quotes_and_newlines_reaches_the_bot_exactly(bake):
    prompt = 'Say "hi" to Bob\'s callers.\nNever close a </Stream> tag or write """ in code.'
    project = bake(system_prompt=prompt)
    loaded = project.run(
        sys.executable,
        "-c",
        "import phrases; print(repr(phrases.SYSTEM_PROMPT))",
        env={**os.environ, "PYTHON_DOTENV_DISABLED": "1"},
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == repr(prompt)


@pytest.mark.parametrize("key", list(CATALOG["realtime"]))
def test_each_realtime_service_bakes_builds_and_converses(bake, key):
    """pipeline=realtime: the speech-to-speech service in place of the three, with its own pipeline."""
    entry = CATALOG["realtime"][key]
    project = bake(pipeline="realtime", realtime=key, agent_name=f"realtime-{key}")

    project.assert_lint_clean()
    assert project.has_file("voice/realtime_pipeline.py") and not project.has_file("voice/pipeline.py")
    pyproject = project.toml("pyproject.toml")
    extras = re.search(r"pipecat-ai\[([^\]]+)\]", pyproject["project"]["dependencies"][0]).group(1).split(",")
    assert sorted(extras) == sorted({"runner", "websocket", entry["extra"]})
    factory = re.findall(r"def create_realtime\(self\) -> (\w+):", project.text("voice/providers.py"))
    assert factory == [entry["class"]]
    env_example = project.text(".env.example")
    for name in required_settings(entry):
        assert re.search(rf"^{name}=$", env_example, re.MULTILINE), name
    # Built offline from the catalog's class, every module imported, then a conversation, both ways: against
    # the fake OpenAI Realtime API itself, or with the service swapped for OpenAI's (tests.serve_agent).
    summary = project.run_agent_tests(*BUILD_CHECKS, "tests/test_realtime.py::test_conversation")
    assert re.search(r"\b\d+ passed", summary) and not re.search(r"failed|skipped|error", summary), summary


def test_every_provider_is_baked():
    baked = {kind: set() for kind in KINDS}
    for param in provider_bakes():
        for kind in KINDS:
            baked[kind].add(param.values[0][kind])
    assert baked == {kind: set(CATALOG[kind]) for kind in KINDS}
