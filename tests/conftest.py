"""Helpers shared by the template's tests: the catalog, the named bakes and a baked-project view."""

import json
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COOKIECUTTER = json.loads((ROOT / "cookiecutter.json").read_text())
CATALOG = COOKIECUTTER["_providers"]
KINDS = ("stt", "llm", "tts")
REGIONS = COOKIECUTTER["_regions"]


def provider_bakes() -> list[pytest.param]:
    """Few bakes that still put every provider of every category in at least one agent.

    Bake i takes the i-th provider of each category (wrapping the shorter lists, each at its own
    offset), so each provider appears once or twice instead of in the full product of options.
    """
    keys = {kind: list(CATALOG[kind]) for kind in KINDS}
    count = max(len(options) for options in keys.values())
    bakes = []
    for i in range(count):
        answers = {kind: keys[kind][(i + offset) % len(keys[kind])] for offset, kind in enumerate(KINDS)}
        answers["region"] = REGIONS[i % len(REGIONS)]
        answers["agent_name"] = f"agent-{i}"
        bake_id = "-".join([answers["stt"], answers["llm"], answers["tts"], answers["region"]])
        bakes.append(pytest.param(answers, id=bake_id))
    return bakes


# Run inside a baked agent: import bot.py, build its services with fake keys, and assemble the
# pipeline bot() builds, all without touching the network.
BUILD_PIPELINE = """
import asyncio, json, sys
import bot
from caller_audio import CallerAudioEnd
from providers import create_llm, create_stt, create_tts
from warm_up import take_services
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair, LLMUserAggregatorParams)

async def main():
    # Built like a call builds them: on the worker thread, off the event loop's thread.
    stt, llm, tts = await take_services(create_stt, create_llm, create_tts, bot.SYSTEM_PROMPT)
    user, assistant = LLMContextAggregatorPair(
        LLMContext(), user_params=LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer()))
    Pipeline([stt, user, CallerAudioEnd(), llm, tts, assistant])
    print(json.dumps([type(stt).__name__, type(llm).__name__, type(tts).__name__]))

asyncio.run(main())
"""


@dataclass
class BakedProject:
    path: Path
    answers: dict

    def has_file(self, relative: str) -> bool:
        return (self.path / relative).is_file()

    def text(self, relative: str) -> str:
        return (self.path / relative).read_text()

    def toml(self, relative: str) -> dict:
        return tomllib.loads(self.text(relative))

    def run(
        self, *command: str, timeout: float = 120, env: dict | None = None
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            command, cwd=self.path, capture_output=True, text=True, timeout=timeout, env=env
        )

    def provider(self, kind: str) -> dict:
        return CATALOG[kind][self.answers.get(kind, COOKIECUTTER[kind])]

    def required_env(self) -> dict[str, str]:
        """A fake value for every variable the chosen providers require."""
        env = {}
        for kind in KINDS:
            provider = self.provider(kind)
            env[provider["api_key"]] = "fake-key"
            for setting in provider["settings"].values():
                if "default" not in setting:
                    env[setting["env"]] = "fake-setting"
        return env

    def assert_lint_clean(self) -> None:
        for ruff_command in (("check", "--no-cache", "."), ("format", "--no-cache", "--check", ".")):
            result = self.run(tool("ruff"), *ruff_command)
            assert result.returncode == 0, result.stdout
        hadolint = self.run(tool("hadolint"), "Dockerfile")
        assert hadolint.returncode == 0, hadolint.stdout

    def built_services(self) -> list[str]:
        """Imports bot.py and builds its services and pipeline with fake keys, offline."""
        env = {**os.environ, **self.required_env(), "PYTHON_DOTENV_DISABLED": "1"}
        built = self.run(sys.executable, "-c", BUILD_PIPELINE, env=env)
        assert built.returncode == 0, built.stderr[-3000:]
        return json.loads(built.stdout.strip().splitlines()[-1])

    def files(self, *, skip: tuple[str, ...] = ()) -> list[Path]:
        return [
            path
            for path in self.path.rglob("*")
            if path.is_file() and path.suffix != ".wav" and path.relative_to(self.path).parts[0] not in skip
        ]


@pytest.fixture
def bake(cookies):
    def _bake(**answers) -> BakedProject:
        result = cookies.bake(extra_context=answers)
        assert result.exit_code == 0, f"bake failed: {result.exception}"
        return BakedProject(result.project_path, answers)

    return _bake


def tool(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).parent / name)
    assert Path(path).exists(), f"{name} is not installed in the test environment"
    return path
