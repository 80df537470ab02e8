"""generate_agents.py makes a team's agents from one team file, and regenerates them without losing work."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import KINDS, ROOT, BakedProject, commit_all, default_answer

SCRIPT = ROOT / "generate_agents.py"
SHARED = {"organization": "acme-voice-1234", "region": "us-east", "greeting": "Thanks for calling Acme."}
SUPPORT = {"agent_name": "support-line"}
SALES = {
    "agent_name": "sales-line",
    "region": "eu-central",
    "stt": "assemblyai",
    "llm": "anthropic",
    "tts": "elevenlabs",
    "max_agents": "20",
    "call_transfer": "yes",
    "outbound_calls": "no",
    "ci": "no",
}
BAD_NUMBER = "transfer_number '555-0100' is not an E.164 number such as +15555550100"
TEAM_FILE = """\
# Our phone agents. Quote yes and no: YAML reads them unquoted as true and false.
replay_dir: {replay_dir}
default_context:
  organization: acme-voice-1234
  region: us-east
  greeting: "{greeting}"
agents:
  - agent_name: support-line
  - agent_name: sales-line
    region: eu-central
    stt: assemblyai
    llm: anthropic
    tts: elevenlabs
    max_agents: 20
    call_transfer: "yes"
    outbound_calls: "no"
    ci: "no"
  - agent_name: bad-line
    call_transfer: "yes"
    transfer_number: "555-0100"
"""
OPTION_FILES = {
    "call_transfer": ["call_control/transfer.py"],
    "outbound_calls": ["call_control/outbound.py", "commands/place_call.py", "twiml/outbound.xml"],
}
TEAMS_OWN = {"TEAM.md": "Who is on call for this line.\n"}
DOT_ENV = "OPENAI_API_KEY=sk-team-secret\n"  # ignored by the agent's git, so git cannot bring it back


def write_team_file(folder: Path, greeting: str = SHARED["greeting"]) -> Path:
    team_file = folder / "team.yaml"
    # The replay cookiecutter saves of each run stays in the test's folder, not the home directory.
    team_file.write_text(TEAM_FILE.format(replay_dir=folder / "replay", greeting=greeting))
    return team_file


def generate_agents(team_file: Path, output_dir: Path, *options: str) -> subprocess.CompletedProcess:
    # Every temporary file of the run goes to one folder, so the test sees whether one is left behind.
    temp = output_dir.parent / "temp"
    temp.mkdir(exist_ok=True)
    command = [sys.executable, str(SCRIPT), str(team_file), "-o", str(output_dir), *options]
    env = {**os.environ, "TMPDIR": str(temp)}
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


def folder_contents(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def assert_agent_matches(agent: BakedProject, answers: dict) -> None:
    deploy = agent.toml("pcc-deploy.toml")
    assert deploy["agent_name"] == answers["agent_name"]
    assert deploy["region"] == answers["region"]
    assert deploy["scaling"] == {"min_agents": 1, "max_agents": int(answers.get("max_agents", 10))}
    dependency = agent.toml("pyproject.toml")["project"]["dependencies"][0]
    extras = set(re.search(r"pipecat-ai\[([^\]]+)\]", dependency).group(1).split(","))
    assert extras == {"runner", "websocket"} | {agent.provider(kind)["extra"] for kind in KINDS}
    assert agent.text("phrases/greeting.txt") == answers["greeting"] + "\n"
    for option, files in OPTION_FILES.items():
        chosen = answers.get(option, default_answer(option, answers))
        for relative in files:
            assert agent.has_file(relative) == (chosen == "yes"), relative


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """The team's agents generated once; a test that changes them works on a copy."""
    folder = tmp_path_factory.mktemp("team")
    result = generate_agents(write_team_file(folder), folder / "agents")
    return folder, result


def test_one_command_generates_each_agent_and_reports_the_bad_entry_by_name(first_run):
    folder, result = first_run
    output = result.stdout
    print(output)
    assert result.returncode == 1, output + result.stderr
    for position, name in ((1, "support-line"), (2, "sales-line")):
        assert f"[{position}/3] {name}: generating\n    Generated {name}: " in output
        assert f"[{position}/3] {name}: generated in " in output
    assert f"[3/3] bad-line: not generated: {BAD_NUMBER}\n" in output
    assert output.splitlines()[-1] == "2 of 3 agents generated; not generated: bad-line"
    assert "Traceback" not in output + result.stderr

    agents = folder / "agents"
    assert sorted(path.name for path in agents.iterdir()) == ["sales-line", "support-line"]
    for answers in ({**SHARED, **SUPPORT}, {**SHARED, **SALES}):
        assert_agent_matches(BakedProject(agents / answers["agent_name"], answers), answers)
    assert (agents / "support-line" / ".github").is_dir()  # ci=yes, the default
    assert not (agents / "sales-line" / ".github").exists()
    assert list((folder / "temp").iterdir()) == []  # the hooks' rendered copies hold every answer


def test_regenerating_keeps_the_teams_files_and_skips_uncommitted_work(first_run, tmp_path):
    agents = tmp_path / "agents"
    shutil.copytree(first_run[0] / "agents", agents)
    support, sales = agents / "support-line", agents / "sales-line"
    for agent in (support, sales):
        for name, text in TEAMS_OWN.items():
            (agent / name).write_text(text)
        commit_all(agent, "the agent, as the team has it")
        (agent / ".env").write_text(DOT_ENV)
    # What `uv sync` leaves, ignored by git: packages whose files look like template syntax or old Python.
    venv_package = support / ".venv" / "lib" / "package"
    venv_package.mkdir(parents=True)
    (venv_package / "page.html").write_text("{% block content %}{% endblock %}\n")
    (venv_package / "legacy.py").write_text('print "Python 2"\n')
    (venv_package / "__pycache__").mkdir()
    readme = sales / "README.md"
    readme.write_text(readme.read_text() + "\nA note nobody has committed yet.\n")
    sales_before = folder_contents(sales)

    result = generate_agents(write_team_file(tmp_path, greeting="Acme here, how can I help?"), agents)

    print(result.stdout)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[1/3] support-line: generated in " in result.stdout
    assert (
        f"[2/3] sales-line: not generated: {sales} has uncommitted changes: commit or stash your changes "
        "first, so that git shows what the template changed (or pass --force)\n" in result.stdout
    )
    assert f"[3/3] bad-line: not generated: {BAD_NUMBER}\n" in result.stdout
    assert result.stdout.splitlines()[-1] == "1 of 3 agents generated; not generated: sales-line, bad-line"
    assert (support / "phrases" / "greeting.txt").read_text() == "Acme here, how can I help?\n"
    assert (support / ".env").read_text() == DOT_ENV
    assert sorted(path.name for path in venv_package.iterdir()) == ["__pycache__", "legacy.py", "page.html"]
    for name, text in TEAMS_OWN.items():
        assert (support / name).read_text() == text
    assert folder_contents(sales) == sales_before
    assert not (agents / "bad-line").exists()
    assert list((tmp_path / "temp").iterdir()) == []


def test_a_failed_regeneration_never_deletes_the_existing_agent(first_run, tmp_path):
    """cookiecutter removes an agent folder on a hook failure only when it created the folder."""
    agents = tmp_path / "agents"
    shutil.copytree(first_run[0] / "agents", agents)
    support = agents / "support-line"
    # The team's own module fails the post-generation hook's ruff check, after the template is written.
    (support / "team_tools.py").write_text("import os\n")
    commit_all(support, "the agent, with a module that fails ruff")
    (support / ".env").write_text(DOT_ENV)
    team_file = tmp_path / "team.yaml"
    team_file.write_text(
        f"replay_dir: {tmp_path / 'replay'}\n"
        "default_context:\n  organization: acme-voice-1234\n"
        "agents:\n  - agent_name: support-line\n"
    )

    result = generate_agents(team_file, agents)

    print(result.stdout)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "[1/1] support-line: not generated: the generated agent failed validation: ruff found"
        in result.stdout
    )
    assert "Traceback" not in result.stdout
    assert (support / "team_tools.py").read_text() == "import os\n"
    assert (support / ".env").read_text() == DOT_ENV
    assert (support / ".git").is_dir() and (support / "bot.py").is_file()


FILE_PROBLEMS = {
    "unknown question": (
        "agents:\n  - agent_name: support-line\n    sst: deepgram\n",
        "agents entry 1 (support-line): unknown question 'sst'; did you mean stt?",
    ),
    "duplicate agent name": (
        "agents:\n  - agent_name: support-line\n  - agent_name: support-line\n",
        "agents entry 2: agent_name 'support-line' is used twice; each agent needs its own",
    ),
    "duplicate key": (
        "agents:\n  - agent_name: support-line\n    stt: deepgram\n    stt: openai\n",
        "line 4: 'stt' appears twice in the same mapping",
    ),
    "unquoted yes": (
        "default_context:\n  call_transfer: yes\nagents:\n  - agent_name: support-line\n",
        'default_context: call_transfer is a YAML boolean: quote the answer, as in call_transfer: "yes"',
    ),
    "no agents": ("default_context:\n  region: us-east\n", "agents must be a list of agents"),
}


@pytest.mark.parametrize("text, problem", FILE_PROBLEMS.values(), ids=FILE_PROBLEMS.keys())
def test_a_problem_with_the_file_is_one_error_line_and_nothing_is_generated(tmp_path, text, problem):
    team_file = tmp_path / "team.yaml"
    team_file.write_text(text)

    result = generate_agents(team_file, tmp_path / "agents")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {team_file}: {problem}")
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "agents").exists()
