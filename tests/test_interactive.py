"""The real `cookiecutter` command at a real terminal (a pseudo-terminal driven by pexpect).

Menus for every choice, each typed answer checked as it is typed and asked again, no question an
earlier "no" made moot, and the organization of a logged-in `pipecat` CLI found through the fake
Pipecat Cloud API (PIPECAT_API_HOST).
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest

from tests.conftest import CATALOG, COOKIECUTTER, ROOT, CloudFailure, FakePipecatCloud, tool

TOKEN = "pcc-fake-token-prompts"
PLACEHOLDER = COOKIECUTTER["_placeholder_organization"]
# How each question starts: rich wraps a question at 80 columns on a plain terminal, never this early.
PROMPTS = {name: prompt[:30] for name, prompt in COOKIECUTTER["__prompts__"].items()}
MENU_END = "Choose from"


class Terminal:
    """cookiecutter in a pseudo-terminal; `transcript` is everything it showed."""

    def __init__(self, output: Path, env: dict[str, str], *arguments: str) -> None:
        self.log = open(output.parent / "terminal.txt", "w+")  # noqa: SIM115 (closed in close())
        self.child = pexpect.spawn(
            tool("cookiecutter"),
            [str(ROOT), "-o", str(output), *arguments],
            env=env,
            encoding="utf-8",
            timeout=30,
        )
        self.child.logfile_read = self.log

    def question(self, name: str) -> str:
        """Waits for a question; returns what the terminal showed up to its end (a menu's choices too)."""
        self.child.expect_exact(PROMPTS[name])
        if name in MENU_QUESTIONS:
            self.child.expect_exact(MENU_END)
            return self.child.before
        return ""

    def answer(self, name: str, typed: str = "") -> str:
        shown = self.question(name)
        self.child.sendline(typed)
        return shown

    def refused(self, name: str, typed: str) -> str:
        """Types a bad answer to the question asked; returns the one line that says why, once the question
        is asked again."""
        self.child.sendline(typed)
        self.child.expect(r"\r\n  (.+): try again\r\n")
        reason = self.child.match.group(1)
        self.question(name)
        return reason

    def finish(self) -> int:
        self.child.expect(pexpect.EOF, timeout=120)
        self.child.close()
        return self.child.exitstatus

    @property
    def transcript(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    def close(self) -> None:
        self.child.close(force=True)
        self.log.close()


MENU_QUESTIONS = {"region", "stt", "llm", "tts", "call_transfer", "call_recording", "dtmf_input"}
MENU_QUESTIONS |= {"outbound_calls", "ci", "deploy", "transfer_mode", "noise_filter", "pipeline", "realtime"}
# The options and the one question a "yes" (the default) to outbound calls adds, in order.
OPTION_QUESTIONS = (
    "call_transfer",
    "call_recording",
    "dtmf_input",
    "outbound_calls",
    "voicemail_message",
    "noise_filter",
    "ci",
)


def terminal_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPECAT_")}
    env.update(
        {
            "NO_COLOR": "1",
            "TERM": "dumb",
            "PATH": f"{Path(sys.executable).parent}:{env['PATH']}",
        }
    )
    env["PIPECAT_CONFIG_PATH"] = os.environ["PIPECAT_CONFIG_PATH"]  # conftest's: no login
    return {**env, **extra}


@pytest.fixture(autouse=True)
def own_cookiecutter_config(tmp_path, monkeypatch):
    """No ~/.cookiecutterrc of whoever runs the tests changes a default, and no replay lands in HOME."""
    config = tmp_path / "cookiecutter-config.yaml"
    home = tmp_path / "cookiecutter-home"
    config.write_text(
        json.dumps({"cookiecutters_dir": str(home / "templates"), "replay_dir": str(home / "replay")})
    )
    monkeypatch.setenv("COOKIECUTTER_CONFIG", str(config))


@pytest.fixture
def terminal(tmp_path):
    started = []

    def start(env: dict[str, str] | None = None, *arguments: str) -> Terminal:
        output = tmp_path / "out"
        started.append(Terminal(output, env or terminal_env(), *arguments))
        return started[-1]

    yield start
    for running in started:
        running.close()


def test_menus_a_refused_answer_asked_again_and_a_skipped_question(terminal, tmp_path):
    term = terminal()
    term.question("agent_name")
    reason = term.refused("agent_name", "My Bot")
    assert reason.startswith("agent_name 'My Bot' is not a Pipecat Cloud agent name")
    term.child.sendline("front-desk")
    term.answer("organization")
    region_menu = term.answer("region")
    assert re.search(r"1 - us-west\s+2 - us-east\s+3 - eu-central\s+4 - ap-south", region_menu)
    pipeline_menu = term.answer("pipeline")  # Enter: the default, cascade; no realtime question after it
    assert re.search(r"1 - cascade\s+2 - realtime", pipeline_menu)
    menus = {"stt": term.answer("stt", "3"), "llm": term.answer("llm", "2"), "tts": term.answer("tts", "2")}
    for kind, menu in menus.items():  # exactly the catalog, in its order (the default is its first)
        offered = re.findall(r"^ +(\d+) - (.+?)\s*$", menu, re.MULTILINE)
        expected = [
            (str(i), f"{key}: {entry['label']}") for i, (key, entry) in enumerate(CATALOG[kind].items(), 1)
        ]
        assert offered == expected, kind
    term.answer("system_prompt")
    term.answer("greeting")
    term.question("min_agents")
    assert term.refused("min_agents", "²").startswith("min_agents '²' must be a whole number")
    term.child.sendline("0")
    term.answer("max_agents")
    term.answer("max_call_minutes")
    transfer_menu = term.answer("call_transfer")  # Enter: the default, no
    assert re.search(r"1 - no\s+2 - yes", transfer_menu)
    # The next question is the recording's: no transfer number after a "no" to transfers.
    term.answer("call_recording")
    term.answer("dtmf_input")
    term.answer("outbound_calls")
    term.answer("voicemail_message")  # asked after a "yes" to outbound calls
    noise_menu = term.answer("noise_filter")
    assert re.search(r"1 - none\s+2 - krisp", noise_menu)
    ci_menu = term.answer("ci")  # its default, yes, comes first
    assert re.search(r"1 - yes\s+2 - no", ci_menu)
    term.answer("deploy")
    assert term.finish() == 0
    transcript = term.transcript
    print(transcript)
    assert PROMPTS["transfer_number"] not in transcript
    assert PROMPTS["transfer_mode"] not in transcript
    assert PROMPTS["realtime"] not in transcript
    assert "Traceback" not in transcript
    agent = tmp_path / "out" / "front-desk"
    assert "Generated front-desk: python compiles and passes ruff" in transcript
    extras = re.search(r"pipecat-ai\[([^\]]+)\]", (agent / "pyproject.toml").read_text())[1].split(",")
    assert {"assemblyai", "anthropic", "elevenlabs"} <= set(extras)
    assert "min_agents = 0" in (agent / "pcc-deploy.toml").read_text()


def test_a_yes_to_transfers_asks_for_the_number_and_checks_it(terminal, tmp_path):
    term = terminal()
    for name in ("agent_name", "organization", "region", "pipeline", "stt", "llm", "tts"):
        term.answer(name)
    for name in ("system_prompt", "greeting"):
        term.answer(name)
    term.answer("min_agents")
    term.answer("max_agents")
    term.answer("max_call_minutes")
    term.answer("call_transfer", "2")
    term.question("transfer_number")
    reason = term.refused("transfer_number", "555-0100")
    assert reason == "transfer_number '555-0100' is not an E.164 number such as +15555550100"
    term.child.sendline("+15555550123")
    mode_menu = term.answer("transfer_mode", "2")
    assert re.search(r"1 - cold\s+2 - warm", mode_menu)
    for name in (*OPTION_QUESTIONS[1:], "deploy"):
        term.answer(name)
    assert term.finish() == 0
    agent = tmp_path / "out" / "phone-agent"
    assert "+15555550123" in (agent / ".env.example").read_text()
    assert (agent / "call_control" / "warm_transfer.py").exists()


# Each typed answer a rule refuses, at its own question; multi-line values cannot be typed at a prompt.
TYPED_BAD_ANSWERS = {
    "agent_name": ["Bad_Name", "-agent", "a" * 55, 'my"agent', "agent</Stream>", "../agent", "{{ 7 * 7 }}"],
    "organization": ["org</Stream><Dial>+15550000000</Dial>", "org' or '1", "Org Name"],
    "system_prompt": [
        "Hello {{ }}",
        "{% if true %}x{% endif %}",
        "Hello {# note #}",
        "   ",
        "w" * 4001,
        "line one\x16\rline two",  # Ctrl-V, then Enter: a carriage return inside the line
    ],
    "greeting": ["  ", "{{ 7 * 7 }}"],
    "min_agents": ["²", "-1", "01", "51", "two"],
    "max_agents": ["0", "51", "٣"],
    "max_call_minutes": ["0", "239", "1.5"],
}


@pytest.mark.parametrize("name", TYPED_BAD_ANSWERS)
def test_each_bad_typed_answer_gets_one_line_and_the_question_again(terminal, tmp_path, name):
    term = terminal()
    for earlier in PROMPTS:
        if earlier == name:
            break
        if earlier not in ("transfer_number", "realtime"):  # asked only after other answers
            term.answer(earlier)
    term.question(name)
    for typed in TYPED_BAD_ANSWERS[name]:
        assert term.refused(name, typed).startswith(name)
    term.child.sendcontrol("c")  # the user gives up: nothing is generated
    term.child.expect(pexpect.EOF)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_a_menu_takes_only_its_numbers(terminal, tmp_path):
    term = terminal()
    for name in ("agent_name", "organization", "region", "pipeline"):
        term.answer(name)
    term.answer("stt", "mars")
    term.child.expect_exact("Please select one of the available options")
    term.child.expect_exact(MENU_END)
    term.child.sendcontrol("c")
    term.child.expect(pexpect.EOF)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


@pytest.fixture
def cloud(servers):
    fake = FakePipecatCloud(token=TOKEN)
    fake.root = servers.serve(fake.app)
    return fake


def generate_logged_in(
    output: Path, cloud, *arguments: str, **env: str | None
) -> tuple[subprocess.CompletedProcess, float]:
    """`cookiecutter --no-input` with the CLI's login in its environment; returns the result and seconds."""
    given = terminal_env(**{"PIPECAT_API_HOST": cloud.root, "PIPECAT_TOKEN": TOKEN, **env})
    started = time.monotonic()
    result = subprocess.run(
        [tool("cookiecutter"), str(ROOT), "--no-input", "-o", str(output), *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={k: v for k, v in given.items() if v is not None},
    )
    return result, time.monotonic() - started


def bin_host(agent: Path) -> str:
    twiml = (agent / "twiml" / "inbound.xml").read_text()
    return re.search(r'name="_pipecatCloudServiceHost" value="([^"]+)"', twiml)[1]


def test_the_lookup_reads_what_the_real_cli_reads(cloud, monkeypatch):
    """The fake answers `pipecat cloud organizations list` (pipecatcloud 1.4), and the lookup agrees."""
    import local_extensions

    cloud.organizations = (("acme-voice-1234", "Acme Voice"), ("globex-5678", "Globex"))
    env = terminal_env(PIPECAT_API_HOST=cloud.root, PIPECAT_TOKEN=TOKEN)
    command = [tool("pipecat"), "cloud", "--output", "json", "organizations", "list"]
    listing = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL
    )
    assert listing.returncode == 0, listing.stdout + listing.stderr
    by_cli = [org["name"] for org in json.loads(listing.stdout)["organizations"]]
    for name in ("PIPECAT_API_HOST", "PIPECAT_TOKEN", "PIPECAT_CONFIG_PATH"):
        monkeypatch.setenv(name, env[name])
    assert local_extensions.logged_in_organizations().slugs == tuple(by_cli)
    assert by_cli == ["acme-voice-1234", "globex-5678"]


def test_a_logged_in_users_one_organization_is_the_default(cloud, tmp_path):
    result, seconds = generate_logged_in(tmp_path, cloud)
    assert result.returncode == 0, result.stderr
    agent = tmp_path / "phone-agent"
    assert bin_host(agent) == "phone-agent.acme-voice-1234"
    assert "placeholder" not in result.stdout
    assert len(cloud.requests_to("GET", "/v1/organizations")) == 1
    print(f"generated with the organization looked up in {seconds:.2f} s")


def cli_config(tmp_path: Path, *, expires_in: float) -> Path:
    """A config file as `pipecat cloud auth login` writes it (cli/commands/auth.py)."""
    config = tmp_path / "pipecatcloud.toml"
    expires_at = time.time() + expires_in
    lines = [f'token = "{TOKEN}"', 'org = "acme-voice-1234"', 'refresh_token = "refresh"']
    config.write_text("\n".join([*lines, f"token_expires_at = {expires_at}"]) + "\n")
    return config


def test_a_login_saved_by_the_cli_is_read_from_its_config_file(cloud, tmp_path):
    config = cli_config(tmp_path, expires_in=3600)
    result, _ = generate_logged_in(tmp_path, cloud, PIPECAT_TOKEN=None, PIPECAT_CONFIG_PATH=str(config))
    assert result.returncode == 0, result.stderr
    assert bin_host(tmp_path / "phone-agent") == "phone-agent.acme-voice-1234"
    assert [r.path for r in cloud.requests] == ["/v1/organizations"]  # straight to the API


def test_an_expired_login_is_left_to_the_cli_which_renews_it(cloud, tmp_path):
    config = cli_config(tmp_path, expires_in=-3600)
    result, seconds = generate_logged_in(tmp_path, cloud, PIPECAT_TOKEN=None, PIPECAT_CONFIG_PATH=str(config))
    assert result.returncode == 0, result.stderr
    assert bin_host(tmp_path / "phone-agent") == "phone-agent.acme-voice-1234"
    # The CLI tried to renew the login (its OAuth discovery), then listed the organizations.
    paths = [r.path for r in cloud.requests]
    assert "/auth/config" in paths and paths[-1] == "/v1/organizations"
    print(f"generated through the CLI in {seconds:.2f} s")


def test_an_expired_login_without_the_cli_keeps_the_placeholder_and_says_why(cloud, tmp_path):
    config = cli_config(tmp_path, expires_in=-3600)
    without_cli = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if not Path(p, "pipecat").exists()
    )
    result, _ = generate_logged_in(
        tmp_path, cloud, PIPECAT_TOKEN=None, PIPECAT_CONFIG_PATH=str(config), PATH=without_cli
    )
    assert result.returncode == 0, result.stderr
    assert bin_host(tmp_path / "phone-agent") == f"phone-agent.{PLACEHOLDER}"
    assert "The pipecat CLI's login has expired: run `pipecat cloud auth login`" in result.stdout
    assert cloud.requests == []


def test_with_several_organizations_the_clis_active_one_is_the_default(cloud, tmp_path):
    cloud.organizations = (("acme-voice-1234", "Acme Voice"), ("globex-5678", "Globex"))
    result, _ = generate_logged_in(tmp_path, cloud, PIPECAT_ORG="globex-5678")
    assert result.returncode == 0, result.stderr
    assert bin_host(tmp_path / "phone-agent") == "phone-agent.globex-5678"


def test_several_organizations_are_a_menu(cloud, terminal, tmp_path):
    cloud.organizations = (("acme-voice-1234", "Acme Voice"), ("globex-5678", "Globex"))
    term = terminal(terminal_env(PIPECAT_API_HOST=cloud.root, PIPECAT_TOKEN=TOKEN))
    term.answer("agent_name")
    term.child.expect_exact(PROMPTS["organization"])
    term.child.expect_exact(MENU_END)
    menu = term.child.before
    # The default first, as in cookiecutter's menus: with no organization active in the CLI, the placeholder.
    assert re.search(rf"1 - {PLACEHOLDER}: fill it in later\s+2 - acme-voice-1234\s+3 - globex-5678", menu)
    term.child.sendline("3")
    for name in ("region", "pipeline", "stt", "llm", "tts", "system_prompt", "greeting", "min_agents"):
        term.answer(name)
    for name in ("max_agents",):
        term.answer(name)
    term.answer("max_call_minutes")
    for name in OPTION_QUESTIONS:
        term.answer(name)
    term.answer("deploy")
    assert term.finish() == 0
    assert bin_host(tmp_path / "out" / "phone-agent") == "phone-agent.globex-5678"


@pytest.mark.parametrize(
    "failure",
    [
        CloudFailure(match="GET /v1/organizations", status=401, error="Unauthorized"),
        CloudFailure(match="GET /v1/organizations", status=None, delay=10),
    ],
    ids=["401", "hang"],
)
def test_a_failed_lookup_keeps_the_placeholder_and_says_why(cloud, tmp_path, failure):
    cloud.failure = failure
    result, seconds = generate_logged_in(tmp_path, cloud)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert bin_host(tmp_path / "phone-agent") == f"phone-agent.{PLACEHOLDER}"
    [note] = [line for line in result.stdout.splitlines() if "keeping the placeholder organization" in line]
    if failure.status == 401:
        assert "log in again with `pipecat cloud auth login`" in note
    print(note)
    print(f"generated in {seconds:.2f} s")


def test_without_a_login_nothing_is_asked_of_pipecat_cloud(cloud, tmp_path):
    result, seconds = generate_logged_in(tmp_path, cloud, PIPECAT_TOKEN="")
    assert result.returncode == 0, result.stderr
    assert cloud.requests == []
    assert bin_host(tmp_path / "phone-agent") == f"phone-agent.{PLACEHOLDER}"
    print(f"generated without a login in {seconds:.2f} s")


def test_piped_answers_get_plain_questions_and_one_error_line(tmp_path):
    """Answers read in order are never asked again: a refusal would shift each later one."""
    piped = "My Bot\n" + "\n" * 40
    result = subprocess.run(
        [tool("cookiecutter"), str(ROOT), "-o", str(tmp_path / "out")],
        input=piped,
        capture_output=True,
        text=True,
        timeout=60,
        env=terminal_env(),
    )
    assert result.returncode != 0
    assert "try again" not in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: agent_name 'My Bot' is not"), result.stderr
    assert not (tmp_path / "out").exists()


def test_a_bad_value_given_on_the_command_line_is_asked_for_at_a_terminal(terminal, tmp_path):
    term = terminal(None, "deploy=No", "tts=espeak")
    for name in ("agent_name", "organization", "region", "pipeline", "stt", "llm"):
        term.answer(name)
    term.child.expect(r"  (tts 'espeak' is not a provider.*): try again")
    tts_menu = term.answer("tts", "2")
    assert "1 - cartesia: Cartesia" in tts_menu  # the catalog's order: nothing is taken for the bad value
    for name in ("system_prompt", "greeting", "min_agents", "max_agents", "max_call_minutes"):
        term.answer(name)
    for name in OPTION_QUESTIONS:
        term.answer(name)
    term.child.expect_exact("deploy 'No' must be yes or no: try again")
    deploy_menu = term.answer("deploy")  # Enter: the menu's first choice
    assert re.search(r"1 - no\s+2 - yes", deploy_menu)
    assert term.finish() == 0
    assert "Deploying" not in term.transcript
    assert "elevenlabs" in (tmp_path / "out" / "phone-agent" / "pyproject.toml").read_text()


def test_a_realtime_pipeline_asks_for_its_model_in_place_of_the_three(terminal, tmp_path):
    term = terminal()
    for name in ("agent_name", "organization", "region"):
        term.answer(name)
    term.answer("pipeline", "2")
    realtime_menu = term.answer("realtime")
    offered = re.findall(r"^ +\d+ - (\w+):", realtime_menu, re.MULTILINE)
    assert offered == list(COOKIECUTTER["_providers"]["realtime"])
    for name in ("system_prompt", "greeting", "min_agents", "max_agents", "max_call_minutes"):
        term.answer(name)
    for name in ("call_transfer", "call_recording", "dtmf_input"):
        term.answer(name)
    outbound_menu = term.answer("outbound_calls")  # its default follows the pipeline: no
    assert re.search(r"1 - no\s+2 - yes", outbound_menu)
    for name in ("noise_filter", "ci", "deploy"):
        term.answer(name)
    assert term.finish() == 0
    transcript = term.transcript
    assert not any(PROMPTS[kind] in transcript for kind in ("stt", "llm", "tts", "voicemail_message"))
    assert (tmp_path / "out" / "phone-agent" / "voice" / "realtime_pipeline.py").exists()
