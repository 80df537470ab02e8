"""Any free-text answer either stops the bake with one `error:` line that names what is wrong, or lands
in the agent exactly as it was typed, in files that still compile and parse.

Each example bakes in this process (cookiecutter's Python API, as a script would call it): about 0.25 s
for an accepted answer, with the hooks, ruff and hadolint; a few ms for a refused one. A subprocess of
the CLI would add about 0.4 s of start-up per example. test_bad_input.py checks the CLI's stderr itself.
"""

import ast
import importlib.util
import json
import re
import shutil
import subprocess
import tempfile
import tomllib
import unicodedata
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
from cookiecutter.environment import StrictEnvironment
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter
from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st

from tests.conftest import COOKIECUTTER, ROOT, tool

# Reproducible in CI: the same examples every run, and no example database written into the repository.
EXAMPLES = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=50,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

# Pieces that break careless templates: quoting, Jinja, XML and TOML syntax, line breaks, invisible and
# bidirectional characters, emoji (non-BMP, and sequences), paths, and sizes far past every limit.
PIECES = [
    '"',
    "'",
    "\\",
    '"""',
    "{{ 7 * 7 }}",
    "{% if true %}x{% endif %}",
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "]]>",
    "<![CDATA[",
    "</Stream>",
    "&amp;",
    "<Parameter/>",
    "\n",
    "\r",
    "\r\n",
    "\t",
    "\x00",
    "\x7f",
    "\x85",
    "\u2028",
    "\u200f",
    "\u202e",
    "\ufeff",
    "\u00a0",
    "😀",
    "❤️",
    "👨\u200d👩\u200d👧",
    "🇺🇸",
    "中文",
    "é",
    "e\u0301",
    "../",
    "../../etc/passwd",
    "/",
    "-",
    " ",
    "x" * 10_000,
    "a " * 5_000,
    "😀" * 2_500,
]
WORDS = ["hello", "thanks for calling", "Acme", "agent", "phone", "bot", "line", "call", "7"]


def hostile_text(max_pieces: int = 6) -> st.SearchStrategy[str]:
    piece = st.one_of(st.sampled_from(PIECES), st.sampled_from(WORDS), st.text(max_size=12))
    return st.lists(piece, max_size=max_pieces).map("".join)


def around(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Valid answers, the same with a hostile piece before or after, and hostile text alone."""
    edited = st.tuples(st.sampled_from(PIECES + [""]), valid, st.sampled_from(PIECES + [""])).map("".join)
    return st.one_of(valid, edited, hostile_text())


# Printable pieces that must survive quoting wherever an answer lands (Python, TOML, XML, a text file).
TRICKY = [
    '"',
    "'",
    "\\",
    '"""',
    "}}",
    "%}",
    "#}",
    "]]>",
    "</Stream>",
    "&amp;",
    "\u200f",
    "😀",
    "❤️",
    "中文",
    "é",
    "../",
]
SLUGS = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,60}[a-z0-9])?", fullmatch=True)
NUMBERS = st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)
SENTENCES = st.lists(st.sampled_from(WORDS + TRICKY + ["?", ".", ","]), min_size=1, max_size=70).map(" ".join)
COUNTS = st.one_of(
    st.integers(min_value=0, max_value=60).map(str),
    st.sampled_from(
        ["00", "01", "+1", "-1", "1.0", " 1", "1 ", "1\n", "²", "٣", "１", "1e2", "9" * 5_000, ""]
    ),
    hostile_text(2),
)
# (min_agents, max_agents): pairs that fit, and any two counts.
COUNT_PAIRS = st.one_of(
    st.integers(min_value=0, max_value=50).flatmap(
        lambda low: st.tuples(st.just(str(low)), st.integers(max(low, 1), 50).map(str))
    ),
    st.tuples(COUNTS, COUNTS),
)


# What the template must refuse: a label for each reason, and a pattern its message must match. These
# restate the documented rules independently of hooks/pre_gen_project.py.
def text_reasons(value: str) -> dict[str, str]:
    if any(opener in value for opener in ("{{", "{%", "{#")):
        return {"template syntax": "contains template syntax"}
    reasons = {}
    if "\r" in value:
        reasons["carriage return"] = r"contains a carriage return \(\\r\); use plain newlines"
    if any(0xD800 <= ord(char) <= 0xDFFF for char in value):
        reasons["not text"] = "is not valid text"
    return reasons


def is_slug(value: str, longest: int) -> bool:
    return len(value) <= longest and re.fullmatch(r"[a-z0-9]+(-+[a-z0-9]+)*", value, re.ASCII) is not None


def controls(value: str, allowed: str = "") -> bool:
    return any(unicodedata.category(char) in ("Cc", "Zl", "Zp") and char not in allowed for char in value)


def name_reasons(value: str) -> dict[str, str]:
    return {} if is_slug(value, 54) else {"not an agent name": "^error: agent_name .+ is not a Pipecat Cloud"}


def organization_reasons(value: str) -> dict[str, str]:
    return {} if is_slug(value, 63) else {"not a slug": "^error: organization .+ is not an organization slug"}


def prompt_reasons(value: str) -> dict[str, str]:
    if not value.strip():
        return {"empty": "^error: system_prompt is empty"}
    if len(value) > 4000:
        return {"too long": "^error: system_prompt is longer than 4000 characters"}
    return (
        {"controls": "^error: system_prompt contains control characters"} if controls(value, "\n\t") else {}
    )


def spoken_line_reasons(value: str, name: str) -> dict[str, str]:
    if not value.strip():
        return {"empty": f"^error: {name} is empty"}
    if len(value) > 300 or controls(value):
        return {"not one short line": f"^error: {name} must be one line of at most 300 characters"}
    return {}


def number_reasons(value: str) -> dict[str, str]:
    if re.fullmatch(r"\+[1-9][0-9]{6,14}", value, re.ASCII):
        return {}
    return {"not E.164": "^error: transfer_number .+ is not an E.164 number"}


def count_reasons(min_agents: str, max_agents: str) -> dict[str, str]:
    def number(text: str) -> int | None:
        return int(text) if re.fullmatch(r"0|[1-9][0-9]*", text, re.ASCII) and len(text) < 7 else None

    low, high = number(min_agents), number(max_agents)
    reasons = {}
    if low is None or low > 50:
        reasons["bad min_agents"] = r"^error: min_agents .+ must be a whole number from 0 to 50"
    if high is None or not 1 <= high <= 50:
        reasons["bad max_agents"] = r"^error: max_agents .+ must be a whole number from 1 to 50"
    elif low is not None and high < low:
        reasons["max below min"] = rf"^error: max_agents {high} is less than min_agents {low}:"
    return reasons


@dataclass
class Bake:
    project: Path | None  # the agent folder, when it was generated
    error: str | None  # the one line it stopped with, when it was refused


@pytest.fixture(scope="module")
def baker(tmp_path_factory):
    """Bakes answers in this process, in a fresh output folder each time, with a private replay folder."""
    home = tmp_path_factory.mktemp("cookiecutter-home")
    config = home / "config.yaml"
    config.write_text(
        json.dumps({"cookiecutters_dir": str(home / "templates"), "replay_dir": str(home / "replay")})
    )
    made = []

    def bake(**answers) -> Bake:
        output = Path(tempfile.mkdtemp(dir=home))
        made.append(output)
        try:
            project = cookiecutter(
                str(ROOT),
                no_input=True,
                extra_context=answers,
                output_dir=str(output),
                config_file=str(config),
            )
        except SystemExit as stop:
            assert list(output.iterdir()) == [], "a refused bake left files behind"
            return Bake(None, str(stop))
        except FailedHookException as failure:
            # AnswerGuard applies the pre-gen checks first, so a hook that fails is a template bug.
            pytest.fail(f"a hook failed for {answers!r}: {failure}")
        return Bake(Path(project), None)

    yield bake
    for output in made:
        shutil.rmtree(output, ignore_errors=True)


def check_outcome(bake: Bake, reasons: dict[str, str]) -> Path | None:
    """Refused with one line that gives one of `reasons`, or, when there are none, generated and sound."""
    if reasons:
        assert bake.error is not None, f"accepted, but it should be refused for: {reasons}"
        assert bake.error.startswith("error: ") and "\n" not in bake.error, bake.error
        matched = [label for label, pattern in reasons.items() if re.search(pattern, bake.error)]
        assert matched, (bake.error, reasons)
        assert len(bake.error) < 400, bake.error
        event(f"refused ({matched[0]})")
        return None
    assert bake.error is None, f"refused, but it is a valid answer: {bake.error}"
    check_agent_files(bake.project)
    event("accepted")
    return bake.project


def check_agent_files(project: Path) -> None:
    for path in project.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")
    for name in ("pcc-deploy.toml", "pyproject.toml"):
        tomllib.loads((project / name).read_text())
    for path in (project / "twiml").glob("*.xml"):
        ElementTree.parse(path)
    formatted = subprocess.run(
        [tool("ruff"), "format", "--check", "--no-cache", "."], cwd=project, capture_output=True, text=True
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def constant(project: Path, relative: str, name: str):
    """The value of `NAME = <literal>` in a generated module, read without running it."""
    for node in ast.parse((project / relative).read_text()).body:
        if isinstance(node, ast.Assign) and [ast.unparse(target) for target in node.targets] == [name]:
            return ast.literal_eval(node.value)
    raise AssertionError(f"{relative} assigns no {name}")


def spoken_phrases(project: Path):
    """The generated phrases module, run as the agent runs it (it reads its text files)."""
    spec = importlib.util.spec_from_file_location("generated_phrases", project / "phrases" / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def service_host(project: Path) -> str:
    stream = ElementTree.parse(project / "twiml" / "inbound.xml").getroot().find("Connect/Stream")
    return {p.get("name"): p.get("value") for p in stream.iter("Parameter")}["_pipecatCloudServiceHost"]


# Each test's explicit examples include answers that must be accepted and answers that must be refused;
# `--hypothesis-show-statistics` shows how many examples ran and how each one ended.
@EXAMPLES
@given(around(SLUGS))
@example("agent\n")
@example("../agent")
@example("a" * 54)
def test_agent_name(baker, name):
    project = check_outcome(baker(agent_name=name), text_reasons(name) or name_reasons(name))
    if project:
        assert project.name == name
        deploy = tomllib.loads((project / "pcc-deploy.toml").read_text())
        assert (deploy["agent_name"], deploy["secret_set"]) == (name, f"{name}-secrets")
        assert service_host(project) == f"{name}.{COOKIECUTTER['_placeholder_organization']}"


@EXAMPLES
@given(around(SLUGS))
@example("org\n")
@example("org</Stream><Dial>+15550000000</Dial>")
@example("industrious-purple-cat-12345")
def test_organization(baker, organization):
    reasons = text_reasons(organization) or organization_reasons(organization)
    project = check_outcome(baker(organization=organization), reasons)
    if project:
        assert service_host(project) == f"{COOKIECUTTER['agent_name']}.{organization}"
        assert constant(project, "phone/twiml.py", "ORGANIZATION") == organization


@EXAMPLES
@given(st.one_of(around(SENTENCES), SENTENCES.map(lambda text: text.replace(" . ", ".\n")), hostile_text(8)))
@example("line one\rline two")
@example("line one\r\nline two")
@example('Say "hi"; never write """ or </Stream> or ]]> or \\n.\n\tThen stop. 😀\u200f')
@example('Reply as JSON such as {"a": {"b": 1}} and close %} or #} as text')
def test_system_prompt(baker, prompt):
    project = check_outcome(baker(system_prompt=prompt), text_reasons(prompt) or prompt_reasons(prompt))
    if project:
        assert (project / "phrases" / "system_prompt.txt").read_bytes().decode() == prompt + "\n"


@EXAMPLES
@given(around(SENTENCES))
# Longer than one source line: it once failed ruff (E501) in the post-gen hook.
@example(
    "Hello there, welcome to the phone line of Acme, we are so glad you called us today, how may I help? 😀"
)
@example('Welcome to "Joe\'s" ❤️ diner \u200f\\ }} %}')
@example("😀")
@example("Hello\u2028there")
def test_greeting(baker, greeting):
    reasons = text_reasons(greeting) or spoken_line_reasons(greeting, "greeting")
    project = check_outcome(baker(greeting=greeting), reasons)
    if project:
        assert spoken_phrases(project).GREETING == greeting


# The greeting's rule, so its hard cases only (hypothesis's explicit phase), rather than a search of its own.
@settings(EXAMPLES, phases=[Phase.explicit])
@given(st.text())
@example('Call "Joe\'s" back ❤️ \u200f\\ }} %}')
@example("Call us back.\u2028Goodbye")
@example("   ")
@example("w" * 301)
@example("😀")
def test_voicemail_message(baker, message):
    reasons = text_reasons(message) or spoken_line_reasons(message, "voicemail_message")
    project = check_outcome(baker(voicemail_message=message), reasons)
    if project:
        assert spoken_phrases(project).VOICEMAIL_MESSAGE == message


@EXAMPLES
@given(around(NUMBERS))
@example("+15555550100")
@example("+15555550100\n")
@example("+123456")
@example("+1234567890123456")
@example("+1555</Dial>")
@example("+１５５５５５５０１００")
def test_transfer_number(baker, number):
    reasons = text_reasons(number) or number_reasons(number)
    project = check_outcome(baker(call_transfer="yes", transfer_number=number), reasons)
    if project:
        tree = ast.parse((project / "settings.py").read_text())
        [default] = [
            ast.literal_eval(node.value.args[1])
            for node in tree.body
            if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "TRANSFER_NUMBER"
        ]
        assert default == number


@EXAMPLES
@given(COUNT_PAIRS)
@example(("²", "10"))
@example(("1", "9" * 5_000))
@example(("0", "1"))
@example(("50", "50"))
@example(("5", "3"))
def test_agent_counts(baker, counts):
    import pipecatcloud.cli.config as cli_config
    from pipecatcloud._utils.deploy_utils import load_deploy_config_file

    min_agents, max_agents = counts
    reasons = {**text_reasons(min_agents), **text_reasons(max_agents)} or count_reasons(
        min_agents, max_agents
    )
    project = check_outcome(baker(min_agents=min_agents, max_agents=max_agents), reasons)
    if project:
        scaling = tomllib.loads((project / "pcc-deploy.toml").read_text())["scaling"]
        assert (str(scaling["min_agents"]), str(scaling["max_agents"])) == (min_agents, max_agents)
        # pipecatcloud's own reader, and its scaling checks, accept the file.
        with mock.patch.object(cli_config, "deploy_config_path", str(project / "pcc-deploy.toml")):
            config = load_deploy_config_file()
        assert (config.scaling.min_agents, config.scaling.max_agents) == (int(min_agents), int(max_agents))


@settings(derandomize=True, database=None, deadline=None, max_examples=300)
@given(st.text(st.characters(codec=None, exclude_categories=())))
@example("😀 \ud83d \udcff \r\n \"\"\" \\ ''' ]]> </Stream>")
def test_hooks_read_every_answer_back_exactly(text):
    """Both hooks receive the answers as `json.loads(r\"\"\"{{ cookiecutter | tojson }}\"\"\")`."""
    hook = (ROOT / "hooks" / "post_gen_project.py").read_text()
    rendered = (
        StrictEnvironment(keep_trailing_newline=True).from_string(hook).render(cookiecutter={"x": text})
    )
    module = {}
    exec(compile(rendered, "post_gen_project.py", "exec"), module)
    assert module["ANSWERS"] == {"x": text}
