"""Helpers shared by the template's tests: the catalog, the named bakes and a baked-project view."""

import importlib.util
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
# Generation looks up a logged-in user's Pipecat Cloud organizations (the `pipecat` CLI's token, from
# the environment or its config file): no bake here may find the login of whoever runs the tests.
os.environ.pop("PIPECAT_TOKEN", None)
os.environ.pop("PIPECAT_ORG", None)
os.environ["PIPECAT_CONFIG_PATH"] = str(ROOT / "tests" / "no-pipecat-login.toml")
COOKIECUTTER = json.loads((ROOT / "cookiecutter.json").read_text())
CATALOG = COOKIECUTTER["_providers"]
KINDS = ("stt", "llm", "tts")
REGIONS = COOKIECUTTER["_regions"]


def default_answer(name: str, answers: dict) -> str:
    """cookiecutter.json's default for `name`, rendered as cookiecutter renders it: some defaults follow an
    earlier answer (outbound_calls is no with pipeline=realtime)."""
    from jinja2 import Template

    plain = {
        key: value for key, value in COOKIECUTTER.items() if isinstance(value, str) and "{{" not in value
    }
    return Template(COOKIECUTTER[name]).render(cookiecutter={**plain, **answers})


def load_agent_module(name: str, relative: str):
    """A plain-Python module of the agent template (its fakes), loaded without generating an agent."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "{{cookiecutter.agent_name}}" / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BackgroundServers = load_agent_module("fake_background", "tests/fakes/background.py").BackgroundServers
cloud_api = load_agent_module("fake_pipecat_cloud_api", "tests/fakes/pipecat_cloud_api.py")
FakePipecatCloud, CloudFailure = cloud_api.FakePipecatCloud, cloud_api.CloudFailure


@pytest.fixture(scope="module")
def servers():
    """Runs fake network peers on loopback, for the tests of one module."""
    running = BackgroundServers()
    yield running
    running.close()


# The agent's ways of serving bot(): the Pipecat Cloud base image's and pipecat's development runner.
SERVING_MODES = ("cloud", "local")


def provider_bakes() -> list[pytest.param]:
    """Few bakes that still put every provider of every category in at least one agent.

    Bake i takes the i-th provider of each category (wrapping the shorter lists, each at its own
    offset), so each provider appears once or twice instead of in the full product of options. Each
    also names the way its conversation is served, the bakes taking turns: the providers' code is the
    same whichever way bot() is served, and the whole suites run both.
    """
    keys = {kind: list(CATALOG[kind]) for kind in KINDS}
    count = max(len(options) for options in keys.values())
    bakes = []
    for i in range(count):
        answers = {kind: keys[kind][(i + offset) % len(keys[kind])] for offset, kind in enumerate(KINDS)}
        answers["region"] = REGIONS[i % len(REGIONS)]
        answers["agent_name"] = f"agent-{i}"
        mode = SERVING_MODES[i % len(SERVING_MODES)]
        bakes.append(pytest.param(answers, mode, id=f"{coverage(answers)}-{answers['region']}-{mode}"))
    return bakes


def required_settings(entry: dict) -> list[str]:
    """The variables a catalog entry's service cannot do without: its key and each value with no default."""
    found = [entry["api_key"]] if entry.get("api_key") else []

    def visit(specs: dict) -> None:
        for spec in specs.values():
            if "env" in spec and "default" not in spec:
                found.append(spec["env"])
            visit(spec.get("args", {}))

    visit(entry.get("arguments", {}))
    visit(entry.get("settings", {}))
    return found


def coverage(answers: dict) -> str:
    """`stt=deepgram(protocol)-llm=...`: each chosen provider, and how the agent's tests fake it."""
    parts = []
    for kind in KINDS:
        entry = CATALOG[kind][answers[kind]]
        how = "protocol" if "fake" in entry.get("endpoint", {}) else "factory"
        parts.append(f"{kind}={answers[kind]}({how})")
    return "-".join(parts)


# The agent's own offline checks of a bake: its pipeline built from the chosen providers with
# placeholder keys, every module imported, the image's contents, and the TwiML Bins.
BUILD_CHECKS = (
    "tests/test_pipeline.py",
    "tests/test_modules.py",
    "tests/test_image.py",
    "tests/test_twiml.py",
)


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

    def assert_lint_clean(self) -> None:
        for ruff_command in (("check", "--no-cache", "."), ("format", "--no-cache", "--check", ".")):
            result = self.run(tool("ruff"), *ruff_command)
            assert result.returncode == 0, result.stdout
        hadolint = self.run(tool("hadolint"), "Dockerfile")
        assert hadolint.returncode == 0, hadolint.stdout

    def run_agent_tests(self, *pytest_args: str) -> str:
        """Runs part of the agent's own suite in one process (a few tests would not repay the workers'
        start-up); returns the summary."""
        return self.run_agent_suite("-n", "0", *pytest_args).stdout.strip().splitlines()[-1]

    def run_agent_suite(self, *pytest_args: str) -> subprocess.CompletedProcess:
        """The same run, for a caller that reads its whole output."""
        result = self.run(
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args, timeout=900
        )
        summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
        # The failures' own sections, which -rA's list of passed tests would push out of the message.
        failures = result.stdout.partition("= FAILURES =")[2].partition("short test summary info")[0]
        # The names of the failed tests first: the sections above can be longer than any message.
        failed = "\n".join(
            line for line in result.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))
        )
        assert result.returncode == 0, (
            failed + "\n" + failures[-8000:] + result.stdout[-3000:] + result.stderr[-2000:]
        )
        assert "skipped" not in summary and "failed" not in summary, summary
        return result

    def planted_secrets(self) -> list[str]:
        """The fake credentials the agent's suite hands the agent and its commands."""
        result = self.run(
            sys.executable,
            "-c",
            "import json; from tests.harness import PLANTED_SECRETS; "
            "from tests.test_deploy import SECRETS, TOKEN; "
            "print(json.dumps([*PLANTED_SECRETS, TOKEN, *SECRETS.values()]))",
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

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


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory) -> str:
    """One pre-commit cache per test worker: the template's and the agents' hooks share environments."""
    return str(tmp_path_factory.mktemp("pre-commit-home"))


def tool(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).parent / name)
    assert Path(path).exists(), f"{name} is not installed in the test environment"
    return path


GIT_IDENTITY = ["-c", "user.name=Template Tests", "-c", "user.email=tests@example.test"]


def run_checked(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Runs a command that must succeed; its output is the failure message."""
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def commit_all(folder: Path, message: str) -> None:
    run_checked(["git", "init", "-q"], folder)
    run_checked(["git", "add", "-A"], folder)
    run_checked(["git", *GIT_IDENTITY, "commit", "-q", "-m", message], folder)


def template_repository(tmp_path: Path) -> Path:
    """The template's tracked files, committed in a repository of their own: cruft records its commit."""
    tracked = run_checked(["git", "ls-files", "-z"], ROOT).stdout.split("\0")
    template = tmp_path / "template"
    for relative in filter(None, tracked):
        (template / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, template / relative)
    commit_all(template, "the template")
    return template
