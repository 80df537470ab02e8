"""Generates, or regenerates, a team's agents from one team file.

    .venv/bin/python generate_agents.py team.yaml [-o OUTPUT_DIR] [--force]

The team file is a cookiecutter user config file (`cookiecutter --config-file team.yaml` reads it):
`default_context` holds the answers every agent shares, and `agents`, a key cookiecutter keeps and
ignores, lists one mapping per agent with its `agent_name` and its own answers. Each agent is one
ordinary `cookiecutter --no-input --overwrite-if-exists` run in its own process, its answers passed
as key=value, so the template's own checks and hooks apply unchanged. The whole file is checked
before anything runs; a bad entry or a folder with uncommitted work is reported by its agent's name
and skipped, and the other agents are still generated.
"""

import argparse
import difflib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

try:
    import yaml  # cookiecutter depends on PyYAML
    from cookiecutter.config import DEFAULT_CONFIG

    from local_extensions import load_pre_gen_hook
except ImportError:
    print(
        f"error: cookiecutter is not installed for {sys.executable}: run this script with the Python that "
        "has it, for example .venv/bin/python generate_agents.py team.yaml (see the README's quick start)",
        file=sys.stderr,
    )
    sys.exit(2)

TEMPLATE_DIR = Path(__file__).resolve().parent
AGENTS_KEY = "agents"
# The keys cookiecutter's own config file takes, and ours.
TOP_LEVEL_KEYS = (*DEFAULT_CONFIG, AGENTS_KEY)
INDENT = "    "
FILE_PROBLEM_EXIT = 2
AGENT_PROBLEM_EXIT = 1
SHOW_CHANGES = "so that git shows what the template changed"


class TeamFileError(Exception):
    """The team file as a whole is unusable: nothing is generated."""


@dataclass
class Agent:
    name: str
    # The entry's answers as cookiecutter's key=value arguments take them.
    answers: dict[str, str]
    # Why the entry cannot be generated, found before cookiecutter runs; None: try it.
    problem: str | None = None


@dataclass
class Outcome:
    generated: bool
    output: list[str]  # what cookiecutter and the hooks printed, to show beneath the agent
    reason: str = ""  # why not, in one line


MERGE_TAG = "tag:yaml.org,2002:merge"


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps only the last of two equal keys; a team file with two is refused instead."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        # A merge key (<<: *shared) may legitimately repeat keys, which the mapping's own then override.
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise TeamFileError(f"line {line}: {key!r} appears twice in the same mapping")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, UniqueKeyLoader.construct_mapping
)


def template_questions() -> tuple[str, ...]:
    """The questions the template asks: cookiecutter.json's keys, but for its private `_` ones."""
    context = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())
    return tuple(key for key in context if not key.startswith("_"))


def unknown_key_problem(key, known: tuple[str, ...], where: str, what: str) -> str:
    close = difflib.get_close_matches(str(key), known, n=3)
    hint = f"did you mean {' or '.join(close)}?" if close else f"the {what}s are: {', '.join(known)}"
    return f"{where}: unknown {what} {key!r}; {hint}"


def answer_text(key: str, value) -> tuple[str | None, str | None]:
    """(the answer as cookiecutter's text, None), or (None, why it is not an answer)."""
    if isinstance(value, bool):
        # YAML reads unquoted yes, no, on, off, true and false as booleans, which the template refuses.
        word = "yes" if value else "no"
        return None, f'{key} is a YAML boolean: quote the answer, as in {key}: "{word}"'
    if isinstance(value, str):
        return value, None
    if isinstance(value, int | float):
        return str(value), None
    if value is None:
        return None, f"{key} has no value"
    return None, f"{key} must be text or a number, not {type(value).__name__}"


def load_team_file(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TeamFileError(f"cannot read it ({error})") from error
    try:
        team = yaml.load(text, Loader=UniqueKeyLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise TeamFileError(f"not valid YAML: {where}{error.problem or error.context}") from error
    except yaml.YAMLError as error:
        raise TeamFileError(f"not valid YAML: {error}") from error
    if not isinstance(team, dict):
        raise TeamFileError("its top level must be a mapping with default_context: and agents:")
    return team


def check_team(team: dict, questions: tuple[str, ...]) -> list[Agent]:
    """The file's agents, each with its entry's problem if it has one; TeamFileError for the file's own."""
    for key in team:
        if key not in TOP_LEVEL_KEYS:
            raise TeamFileError(unknown_key_problem(key, TOP_LEVEL_KEYS, "top level", "key"))
    shared = team.get("default_context") or {}
    if not isinstance(shared, dict):
        raise TeamFileError("default_context must be a mapping of question: answer")
    for key, value in shared.items():
        if key not in questions:
            raise TeamFileError(unknown_key_problem(key, questions, "default_context", "question"))
        problem = answer_text(key, value)[1]
        if problem:
            raise TeamFileError(f"default_context: {problem}")
    entries = team.get(AGENTS_KEY)
    if not isinstance(entries, list) or not entries:
        raise TeamFileError(f"{AGENTS_KEY} must be a list of agents, each a mapping with agent_name:")
    agents, names = [], set()
    for position, entry in enumerate(entries, start=1):
        where = f"{AGENTS_KEY} entry {position}"
        if not isinstance(entry, dict) or not isinstance(entry.get("agent_name"), str):
            raise TeamFileError(f"{where} must be a mapping with an agent_name: text")
        name = entry["agent_name"]
        if name in names:
            raise TeamFileError(f"{where}: agent_name {name!r} is used twice; each agent needs its own")
        names.add(name)
        agent = Agent(name, {})
        for key, value in entry.items():
            if key not in questions:
                raise TeamFileError(unknown_key_problem(key, questions, f"{where} ({name})", "question"))
            text, problem = answer_text(key, value)
            agent.answers[key] = text
            agent.problem = agent.problem or problem
        agents.append(agent)
    return agents


def git(folder: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *arguments], cwd=folder, capture_output=True, text=True)


def existing_folder_problem(folder: Path) -> str | None:
    """Why regenerating over this folder could lose work; None when it is absent or committed."""
    if not folder.exists():
        return None
    if not folder.is_dir():
        return f"{folder} exists and is not a folder"
    try:
        inside = git(folder, "rev-parse", "--is-inside-work-tree")
    except FileNotFoundError:
        return f"{folder} exists and git is not installed to keep its work: install git, or pass --force"
    if inside.returncode or inside.stdout.strip() != "true":
        return f"{folder} exists but is not in git: commit it first, {SHOW_CHANGES} (or pass --force)"
    # Untracked files count: the template could overwrite one that has the name of a file it renders.
    status = git(folder, "status", "--porcelain", "--untracked-files=all", "--", ".")
    if status.returncode:
        return f"git status failed in {folder}: {status.stderr.strip()}"
    if status.stdout.strip():
        return (
            f"{folder} has uncommitted changes: commit or stash your changes first, {SHOW_CHANGES} "
            "(or pass --force)"
        )
    return None


def generate(agent: Agent, team_file: Path, output_dir: Path) -> Outcome:
    """One ordinary cookiecutter run: default_context from the team file, then the entry's answers."""
    command = [
        sys.executable,
        "-m",
        "cookiecutter",
        "--no-input",
        "--overwrite-if-exists",
        "--config-file",
        str(team_file),
        "--output-dir",
        str(output_dir),
        str(TEMPLATE_DIR),
        *(f"{key}={value}" for key, value in agent.answers.items()),
    ]
    # No terminal: nothing waits for an answer, and with deploy=yes deploy.py takes that as the confirmation.
    process = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    output = process.stdout.splitlines()
    errors = [line for line in process.stderr.splitlines() if line.strip()]
    if process.returncode == 0:
        return Outcome(True, output + errors)
    # The hooks report one `error:` line on stderr, perhaps with details after it; cookiecutter's own
    # report of the failed hook (a traceback) is on stdout and left out.
    first = next((i for i, line in enumerate(errors) if line.startswith("error: ")), None)
    if first is None:
        reason = errors[-1] if errors else f"cookiecutter exited with status {process.returncode}"
        return Outcome(False, [], reason)
    return Outcome(False, errors[first + 1 :], errors[first].removeprefix("error: "))


def show(lines: list[str]) -> None:
    for line in lines:
        print(INDENT + line if line else "", flush=True)


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="generate_agents.py",
        description="Generate or regenerate every agent a team file lists, without prompts.",
    )
    parser.add_argument("team_file", type=Path, help="a cookiecutter config file with an agents: list")
    parser.add_argument(
        "-o", "--output-dir", type=Path, default=Path("."), help="where the agent folders go (default: here)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="regenerate over existing folders even when git cannot show what changed",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    team_file = arguments.team_file
    try:
        agents = check_team(load_team_file(team_file), template_questions())
    except TeamFileError as problem:
        print(f"error: {team_file}: {problem}", file=sys.stderr)
        return FILE_PROBLEM_EXIT
    agent_name_rule = load_pre_gen_hook()
    output_dir = arguments.output_dir
    failed = []
    for position, agent in enumerate(agents, start=1):
        label = f"[{position}/{len(agents)}] {agent.name}"
        folder = output_dir / agent.name
        problem = (
            agent.problem
            or agent_name_rule.answer_problem("agent_name", {"agent_name": agent.name})
            or (None if arguments.force else existing_folder_problem(folder))
        )
        if problem:
            print(f"{label}: not generated: {problem}", flush=True)
            failed.append(agent.name)
            continue
        print(f"{label}: generating", flush=True)
        outcome = generate(agent, team_file.resolve(), output_dir.resolve())
        if outcome.generated:
            show(outcome.output)
            print(f"{label}: generated in {folder}", flush=True)
        else:
            print(f"{label}: not generated: {outcome.reason}", flush=True)
            show(outcome.output)
            failed.append(agent.name)
    summary = f"{len(agents) - len(failed)} of {len(agents)} agents generated"
    print(f"{summary}; not generated: {', '.join(failed)}" if failed else summary)
    return AGENT_PROBLEM_EXIT if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
