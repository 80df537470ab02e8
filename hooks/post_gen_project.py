"""Checks the rendered agent, then prints the next steps.

Runs inside the new agent folder. A failed check exits non-zero, and cookiecutter then removes the
folder, so a broken agent is never left behind. Facts the agent defines (the stream URL of a region,
the placeholder organization, the CLI's config file) are read from the agent's own modules.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ANSWERS = json.loads(r"""
{{ cookiecutter | tojson }}
""")
# cruft adds the template commit to the answers it renders with (create and update); cookiecutter never does.
RENDERED_BY_CRUFT = "_commit" in ANSWERS
# Re-answers the organization: the agent's files then match a fresh bake with that answer.
REANSWER_ORGANIZATION = """`cruft update -y --variables-to-update '{"organization": "<yours>"}'`"""
# Built in two pieces so that cookiecutter does not read the pattern itself as a Jinja tag.
UNRENDERED = re.compile(r"\{\{\s*cookiecutter|\{" + r"%-?\s")
# The agent's folder in the template (a Jinja string literal, so that it renders as itself).
TEMPLATE_FOLDER = "{{ '{{cookiecutter.agent_name}}' }}"


class InvalidAgent(Exception):
    """The rendered agent failed a check."""


def from_template(root: Path) -> list[Path]:
    """The agent's files and folders that the template wrote. Regenerating over an agent folder
    (--overwrite-if-exists) leaves its .venv and the team's own files there: not the template's to check."""
    if "_repo_dir" not in ANSWERS:  # cruft, which renders into an empty temporary folder
        return list(root.rglob("*"))
    template = Path(ANSWERS["_repo_dir"]) / TEMPLATE_FOLDER
    found = [root / path.relative_to(template) for path in template.rglob("*")]
    return [path for path in found if path.exists()]


def remove_tool_caches(root: Path) -> None:
    """Drops caches that running tools inside the template folder may have left there."""
    for folder in [root, *filter(Path.is_dir, from_template(root))]:
        for cache in ("__pycache__", ".ruff_cache", ".pytest_cache"):
            shutil.rmtree(folder / cache, ignore_errors=True)


def remove_files(root: Path, *relative: str) -> None:
    for path in relative:
        (root / path).unlink()


def remove_transfer_files(root: Path) -> None:
    remove_files(root, "call_control/transfer.py", "tests/test_transfer.py", "tests/test_cold_transfer.py")
    remove_warm_transfer_files(root)


def remove_warm_transfer_files(root: Path) -> None:
    remove_files(root, "call_control/warm_transfer.py", "tests/test_warm_transfer.py")


def remove_recording_files(root: Path) -> None:
    remove_files(root, "call_control/recording.py", "tests/test_recording.py")


def remove_dtmf_files(root: Path) -> None:
    remove_files(root, "call_control/dtmf.py", "tests/test_dtmf.py")


def remove_outbound_files(root: Path) -> None:
    remove_files(root, "call_control/outbound.py", "commands/place_call.py", "tests/test_outbound.py")
    remove_files(
        root, "call_control/voicemail.py", "phrases/voicemail_message.txt", "tests/test_voicemail.py"
    )
    remove_files(root, "tests/audio/hello.wav", "tests/audio/voicemail_greeting.wav")


# The two ways a call's voice works; post-gen keeps the chosen one's files and removes the other's.
CASCADE_FILES = (
    "voice/pipeline.py",
    "voice/reply_guard.py",
    "voice/caller_audio.py",
    "tests/test_call.py",
    "tests/test_greeting.py",
    "tests/test_turn_models.py",
    "tests/test_provider_faults.py",
    "tests/test_caller_audio.py",
    "tests/test_warm_up.py",
)
REALTIME_FILES = (
    "voice/realtime_pipeline.py",
    "tests/test_realtime.py",
    "tests/fakes/openai_realtime_server.py",
)


def remove_cascade_files(root: Path) -> None:
    remove_files(root, *CASCADE_FILES)


def remove_realtime_files(root: Path) -> None:
    remove_files(root, *REALTIME_FILES, *model_fakes(but=None))


def model_fakes(but: str | None) -> list[str]:
    """The protocol fakes of single speech-to-speech models (the catalog's fake_server), but one's, which
    may serve more than one entry (Gemini Live, and on Vertex AI)."""
    fakes = {
        key: f"tests/fakes/{fake.split('.')[0]}.py"
        for key, entry in ANSWERS["_providers"]["realtime"].items()
        if (fake := entry.get("endpoint", {}).get("fake_server"))
    }
    return sorted(set(fakes.values()) - {fakes.get(but)})


def signs_in_with_a_key_file(answers: dict) -> bool:
    """A chosen provider takes a service account key file's JSON (the catalog's "type": "json")."""
    catalog = answers["_providers"]
    kinds = ["realtime"] if answers["pipeline"] == "realtime" else ["stt", "llm", "tts"]
    entries = [catalog[kind][answers[kind]] for kind in kinds]
    arguments = [spec for entry in entries for spec in entry.get("arguments", {}).values()]
    return any(spec.get("type") == "json" for spec in arguments)


def remove_ci_files(root: Path) -> None:
    """The workflow only: a team regenerating its agent may keep other files in .github/."""
    workflow = root / ".github" / "workflows" / "ci.yml"
    workflow.unlink()
    for folder in (workflow.parent, workflow.parent.parent):
        if not any(folder.iterdir()):
            folder.rmdir()


def write_twiml_bins() -> None:
    """The Bins in twiml/ come from phone/twiml.py, the same source the agent builds its inline TwiML from."""
    from phone import twiml

    twiml.write_bins()


def check_no_jinja_left(root: Path) -> None:
    for path in filter(Path.is_file, from_template(root)):
        if UNRENDERED.search(path.read_text(errors="ignore")):
            raise InvalidAgent(f"{path.relative_to(root)} still holds template syntax")


def find_tool(name: str) -> str | None:
    """A tool on PATH, or beside the Python running cookiecutter (e.g. `.venv/bin/cookiecutter`)."""
    beside_python = Path(sys.executable).parent / name
    return shutil.which(name) or (str(beside_python) if beside_python.exists() else None)


def check_python(root: Path) -> str:
    ruff = find_tool("ruff")
    if not ruff:
        for path in from_template(root):
            if path.suffix == ".py" and path.is_file():
                compile(path.read_text(), str(path), "exec")
        return "python compiles (ruff not installed: lint skipped)"
    # ruff parses every file and fails on invalid syntax, so compiling them as well (70 ms) would add nothing.
    lint = subprocess.run(
        [ruff, "check", "--quiet", "--no-cache", "."], cwd=root, capture_output=True, text=True
    )
    if lint.returncode:
        raise InvalidAgent(f"ruff found problems:\n{lint.stdout}{lint.stderr}")
    return "python compiles and passes ruff"


def check_config_files(answers: dict) -> None:
    """The agent's own check of its TwiML Bins and pcc-deploy.toml, and that they hold these answers."""
    from commands import check_config
    from phone import twiml

    found = check_config.problems()
    if found:
        raise InvalidAgent(found[0])
    if (twiml.AGENT_NAME, twiml.ORGANIZATION, twiml.REGION) != (
        answers["agent_name"],
        answers["organization"],
        answers["region"],
    ):
        raise InvalidAgent("phone/twiml.py does not hold the agent, organization and region answered")


def start_dockerfile_lint(root: Path) -> subprocess.Popen | None:
    """hadolint, started first so that it runs beside the Python checks."""
    hadolint = find_tool("hadolint")
    if not hadolint:
        return None
    return subprocess.Popen(
        [hadolint, "Dockerfile"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def check_dockerfile(lint: subprocess.Popen | None) -> str:
    if lint is None:
        return "Dockerfile not linted (hadolint not installed)"
    output, _ = lint.communicate()
    if lint.returncode:
        raise InvalidAgent(f"hadolint found problems:\n{output}")
    return "Dockerfile passes hadolint"


def validate(root: Path, answers: dict) -> list[str]:
    check_no_jinja_left(root)
    dockerfile_lint = start_dockerfile_lint(root)
    try:
        python = check_python(root)
        check_config_files(answers)
    except BaseException:
        if dockerfile_lint:
            dockerfile_lint.kill()
            dockerfile_lint.communicate()
        raise
    dockerfile = check_dockerfile(dockerfile_lint)
    return [python, "TwiML Bins and pcc-deploy.toml parse and match the answers", dockerfile]


def organization_advice(answers: dict) -> list[str]:
    """How to fill in a placeholder organization; the questions already offered a logged-in user's own."""
    from phone.twiml import PLACEHOLDER_ORGANIZATION

    if answers["organization"] != PLACEHOLDER_ORGANIZATION:
        return []
    return [
        "The organization is still a placeholder: find yours with `pipecat cloud organizations list`, then "
        f"in the agent run {REANSWER_ORGANIZATION} (made with `cruft create`, its changes committed); "
        f"without cruft, replace {PLACEHOLDER_ORGANIZATION!r} in ORGANIZATION in phone/twiml.py and run "
        "`python -m commands.twiml_bins`."
    ]


def deploy(root: Path, name: str) -> None:
    """Runs the agent's own deploy command; generation succeeds even when it cannot deploy yet."""
    # On a terminal deploy.py shows its plan and asks; without one, the explicit deploy=yes answers.
    from deploy import find_cli

    confirmation = [] if sys.stdin.isatty() else ["--yes"]
    print("Deploying to Pipecat Cloud with deploy.py:", flush=True)
    # deploy.py reads .env with python-dotenv: the pipecat CLI's own Python has it, cookiecutter's may not.
    cli = find_cli()
    beside_cli = Path(cli).resolve().parent / "python" if cli else None
    python = str(beside_cli) if beside_cli and beside_cli.exists() else sys.executable
    command = [python, "deploy.py", *confirmation]
    result = subprocess.run(command, cwd=root, stderr=subprocess.PIPE, text=True)
    if result.returncode:
        reason = (result.stderr.strip().splitlines() or ["deploy.py failed"])[-1].removeprefix("error: ")
        print(f"Not deployed: {reason}. Deploy later with: cd {name} && uv run deploy.py")


def remove_rendered_copy() -> None:
    """cookiecutter (2.7) runs a rendered copy of this hook from the temp folder and never deletes it;
    the copy holds every answer. Python has read it already."""
    if Path(__file__).name != "post_gen_project.py":
        Path(__file__).unlink(missing_ok=True)


def main() -> None:
    remove_rendered_copy()
    root = Path.cwd()
    sys.path.insert(0, str(root))  # the agent's own modules, which define the facts checked here
    sys.dont_write_bytecode = True  # and no __pycache__ of theirs left in the new agent
    remove_tool_caches(root)
    if ANSWERS["call_transfer"] == "no":
        remove_transfer_files(root)
    elif ANSWERS["transfer_mode"] == "warm":
        remove_files(root, "tests/test_cold_transfer.py")  # its checks are the cold <Dial>'s
    else:
        remove_warm_transfer_files(root)
    if ANSWERS["call_recording"] == "no":
        remove_recording_files(root)
    if ANSWERS["dtmf_input"] == "no":
        remove_dtmf_files(root)
    if ANSWERS["outbound_calls"] == "no":
        remove_outbound_files(root)
    if ANSWERS["pipeline"] == "realtime":
        remove_cascade_files(root)
        remove_files(root, *model_fakes(but=ANSWERS["realtime"]))
    else:
        remove_realtime_files(root)
    if not signs_in_with_a_key_file(ANSWERS):
        remove_files(root, "tests/fakes/google_oauth.py")
    if ANSWERS["noise_filter"] == "none":
        remove_files(root, "voice/noise_filter.py", "tests/test_noise_filter.py")
    if ANSWERS["ci"] == "no":
        remove_ci_files(root)
    try:
        write_twiml_bins()
        results = validate(root, ANSWERS)
    except (InvalidAgent, SyntaxError) as error:
        print(f"error: the generated agent failed validation: {error}", file=sys.stderr)
        sys.exit(1)
    name = ANSWERS["agent_name"]
    print(f"Generated {name}: {'; '.join(results)}.")
    for line in organization_advice(ANSWERS):
        print(line)
    print(
        f"Next: cd {name} && cp .env.example .env (fill in the keys), uv sync && uv run pytest, "
        "then uv run deploy.py and connect a Twilio number (README.md)."
    )
    if ANSWERS["deploy"] == "yes" and RENDERED_BY_CRUFT:
        # cruft renders into temporary folders, twice for an update (the old and the new agent).
        print(
            "Not deployed: cruft renders the agent in a temporary folder. "
            f"Deploy with: cd {name} && uv run deploy.py"
        )
    elif ANSWERS["deploy"] == "yes":
        deploy(root, name)


if __name__ == "__main__":
    main()
