"""The agent README's five-minute path works as written: each command in it, run in a fresh clone with uv."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.conftest import commit_all

FIRST_MINUTES = re.compile(r"^## Your first five minutes\n.*?```sh\n(.*?)```", re.DOTALL | re.MULTILINE)
# What each step prints when it worked.
EXPECTED = {
    "uv sync": None,
    "uv run pytest tests/test_call.py": re.compile(r"^=+ \d+ passed(, \d+ warnings?)? in ", re.MULTILINE),
    "uv run python -m commands.simulate --wav tests/audio/question.wav": re.compile(
        r"greeting: first bot audio.*turn 1: first reply audio, latency \d+ ms.*caller hangs up", re.DOTALL
    ),
    "uv run pre-commit install": re.compile(
        r"^pre-commit installed at \.git/hooks/pre-commit$", re.MULTILINE
    ),
}


def test_the_five_minute_path_runs_as_written(bake, pre_commit_home):
    agent = bake()
    readme = agent.text("README.md")
    commands = [line.split("#")[0].strip() for line in FIRST_MINUTES.search(readme)[1].splitlines()]
    assert commands == list(EXPECTED)
    assert "Then read `bot.py`" in readme
    commit_all(agent.path, "the agent, as a new team member clones it")
    # A newcomer's shell: uv on PATH (here, the test environment's), no keys, no virtualenv active.
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PRE_COMMIT_HOME"] = pre_commit_home
    for command, expected in EXPECTED.items():
        result = subprocess.run(
            shlex.split(command), cwd=agent.path, env=env, capture_output=True, text=True, timeout=600
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{command}:\n{output[-3000:]}"
        if expected:
            assert expected.search(output), f"{command}:\n{output[-3000:]}"
        print(f"$ {command}\n{output.strip().splitlines()[-1]}")
    assert (agent.path / ".venv" / "bin" / "python").exists()
