"""Validates every answer before anything is rendered; one clear line and a non-zero exit on failure.

local_extensions.AnswerGuard runs the same `problems()` while cookiecutter is still prompting, so a
bad answer from the command line stops there, before a folder exists and without cookiecutter's
traceback. This hook repeats the check for every other way in (replay files, the Python API).
"""

import json
import re
import sys
import unicodedata
from pathlib import Path

# Pipecat Cloud agent names and organization slugs share one shape; always applied with fullmatch,
# because `$` would also match before a trailing newline.
SLUG = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
MAX_AGENT_NAME = 54
MAX_ORGANIZATION = 63
MAX_SYSTEM_PROMPT = 4000
MAX_GREETING = 300
# Pipecat Cloud caps a deployment's pool at 50 agents unless support raises it (its scaling docs, and
# `pipecat cloud deploy --help`: "default cap 50, contact support to raise").
MAX_AGENTS_CAP = 50
# A count in ASCII digits without a leading zero ("²" and "٣" pass str.isdigit()), short enough for int().
COUNT = re.compile(r"0|[1-9][0-9]{0,5}")
# Facts the template keeps in cookiecutter.json, which the checks below and the agent read.
TEMPLATE_FACTS = ("_providers", "_regions", "_phone_number_pattern", "_placeholder_organization")
QUESTIONS = (
    "agent_name",
    "organization",
    "region",
    "stt",
    "llm",
    "tts",
    "system_prompt",
    "greeting",
    "min_agents",
    "max_agents",
    "call_transfer",
    "transfer_number",
    "call_recording",
    "dtmf_input",
    "outbound_calls",
    "deploy",
)
# Jinja's openers, built from pieces so that cookiecutter, which renders this file, does not read them.
TEMPLATE_OPENERS = tuple("{" + second for second in ("{", "%", "#"))


def shown(value) -> str:
    """An answer as it appears in a message: quoted, escaped, and cut short, so the message stays one line."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def has_template_syntax(text: str) -> bool:
    return any(opener in text for opener in TEMPLATE_OPENERS)


def text_problem(name: str, value) -> str | None:
    """What no answer may hold, whatever it is for."""
    if not isinstance(value, str):
        # The Python API and replay files can pass None or a list; a number or yes/no is checked below.
        return None if isinstance(value, int) else f"{name} must be text, not {type(value).__name__}"
    if has_template_syntax(value):
        return f"{name} contains template syntax ({', '.join(TEMPLATE_OPENERS)}), which is not allowed"
    if "\r" in value:
        # Jinja would turn it into a newline, so the agent would never get what was typed.
        return f"{name} contains a carriage return (\\r); use plain newlines"
    if any(unicodedata.category(ch) == "Cs" for ch in value):
        return f"{name} is not valid text: it holds bytes that are not UTF-8 ({shown(value)})"
    return None


def control_characters(text: str, allowed: str = "") -> bool:
    """C0, DEL and C1 controls, and the Unicode line and paragraph separators."""
    return any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") and ch not in allowed for ch in text)


def count(value) -> int | None:
    text = str(value)
    return int(text) if COUNT.fullmatch(text) else None


def problems(answers: dict) -> list[str]:
    lacking = [key for key in (*TEMPLATE_FACTS, *QUESTIONS) if key not in answers]
    if lacking:
        # A replay file saved by an older version of the template, for instance.
        return [f"the answers lack {', '.join(lacking)}: answer this version's questions again (no --replay)"]
    found = [problem for key in QUESTIONS if (problem := text_problem(key, answers[key]))]
    if found:
        return found
    name = str(answers["agent_name"])
    if not SLUG.fullmatch(name) or len(name) > MAX_AGENT_NAME:
        found.append(
            f"agent_name {shown(name)} is not a Pipecat Cloud agent name: use lowercase letters, digits and "
            f"inner dashes, at most {MAX_AGENT_NAME} characters"
        )
    organization = str(answers["organization"])
    if not SLUG.fullmatch(organization) or len(organization) > MAX_ORGANIZATION:
        found.append(
            f"organization {shown(organization)} is not an organization slug such as "
            "industrious-purple-cat-12345 (see `pipecat cloud organizations list`)"
        )
    if answers["region"] not in answers["_regions"]:
        found.append(f"region {shown(answers['region'])} is not one of: {', '.join(answers['_regions'])}")
    for kind in ("stt", "llm", "tts"):
        offered = answers["_providers"][kind]
        if answers[kind] not in offered:
            found.append(
                f"{kind} {shown(answers[kind])} is not a provider; choose one of: {', '.join(offered)}"
            )
    prompt = str(answers["system_prompt"])
    if not prompt.strip():
        found.append("system_prompt is empty: describe what the agent does")
    elif len(prompt) > MAX_SYSTEM_PROMPT:
        found.append(
            f"system_prompt is longer than {MAX_SYSTEM_PROMPT} characters; keep the details in a file"
        )
    elif control_characters(prompt, allowed="\n\t"):
        found.append("system_prompt contains control characters (only newlines and tabs are allowed)")
    greeting = str(answers["greeting"])
    if not greeting.strip():
        found.append("greeting is empty: write what the bot says when it answers")
    elif len(greeting) > MAX_GREETING or control_characters(greeting):
        found.append(
            f"greeting must be one line of at most {MAX_GREETING} characters, without control characters"
        )
    for option in ("call_transfer", "call_recording", "dtmf_input", "outbound_calls", "deploy"):
        # Plain yes/no strings: cookiecutter's own booleans end a bad value in a traceback.
        if answers[option] not in ("yes", "no"):
            found.append(f"{option} {shown(answers[option])} must be yes or no")
    try:
        phone_number = re.compile(answers["_phone_number_pattern"])
    except re.error as error:
        return [f"_phone_number_pattern is not a regular expression: {error}"]
    number = str(answers["transfer_number"])
    if not phone_number.fullmatch(number):
        found.append(f"transfer_number {shown(number)} is not an E.164 number such as +15555550100")
    min_agents, max_agents = count(answers["min_agents"]), count(answers["max_agents"])
    digits = "digits 0-9, no sign or leading zero"
    if min_agents is None or min_agents > MAX_AGENTS_CAP:
        found.append(
            f"min_agents {shown(answers['min_agents'])} must be a whole number from 0 to {MAX_AGENTS_CAP} "
            f"({digits})"
        )
    if max_agents is None or not 1 <= max_agents <= MAX_AGENTS_CAP:
        found.append(
            f"max_agents {shown(answers['max_agents'])} must be a whole number from 1 to {MAX_AGENTS_CAP} "
            f"({digits}); Pipecat Cloud caps a deployment at {MAX_AGENTS_CAP}"
        )
    elif min_agents is not None and max_agents < min_agents:
        found.append(
            f"max_agents {max_agents} is less than min_agents {min_agents}: "
            "the warm agents must fit under the cap"
        )
    return found


def remove_rendered_copy() -> None:
    """cookiecutter (2.7) runs a rendered copy of this hook from the temp folder and never deletes it;
    the copy holds every answer. Python has read it already."""
    if Path(__file__).name != "pre_gen_project.py":
        Path(__file__).unlink(missing_ok=True)


if __name__ == "__main__":
    remove_rendered_copy()
    found = problems(
        json.loads(r"""
{{ cookiecutter | tojson }}
""")
    )
    if found:
        # One line for the first problem keeps the message readable; fixing it shows the next one.
        print(f"error: {found[0]}", file=sys.stderr)
        sys.exit(1)
