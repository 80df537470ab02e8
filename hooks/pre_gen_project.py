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
MAX_SPOKEN_LINE = 300
# Pipecat Cloud caps a deployment's pool at 50 agents unless support raises it (its scaling docs, and
# `pipecat cloud deploy --help`: "default cap 50, contact support to raise").
MAX_AGENTS_CAP = 50
# Pipecat Cloud's longest session (max_session_duration in pcc-deploy.toml).
MAX_SESSION_SECS = 14400
# A count in ASCII digits without a leading zero ("²" and "٣" pass str.isdigit()), short enough for int().
COUNT = re.compile(r"0|[1-9][0-9]{0,5}")
# Facts the template keeps in cookiecutter.json, which the checks below and the agent read.
TEMPLATE_FACTS = (
    "_providers",
    "_regions",
    "_transfer_modes",
    "_noise_filters",
    "_pipelines",
    "_phone_number_pattern",
    "_placeholder_organization",
    "_call_end_margin_secs",
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


def agent_name_problem(answers: dict) -> str | None:
    name = str(answers["agent_name"])
    if not SLUG.fullmatch(name) or len(name) > MAX_AGENT_NAME:
        return (
            f"agent_name {shown(name)} is not a Pipecat Cloud agent name: use lowercase letters, digits and "
            f"inner dashes, at most {MAX_AGENT_NAME} characters"
        )
    return None


def organization_problem(answers: dict) -> str | None:
    organization = str(answers["organization"])
    if not SLUG.fullmatch(organization) or len(organization) > MAX_ORGANIZATION:
        return (
            f"organization {shown(organization)} is not an organization slug such as "
            "industrious-purple-cat-12345 (see `pipecat cloud organizations list`)"
        )
    return None


def choice_problem(name: str, choices_fact: str):
    """The rule of a question whose answer is one of the template's list `choices_fact`."""

    def check(answers: dict) -> str | None:
        choices = answers[choices_fact]
        if answers[name] not in choices:
            return f"{name} {shown(answers[name])} is not one of: {', '.join(choices)}"
        return None

    return check


def transfer_mode_problem(answers: dict) -> str | None:
    modes = answers["_transfer_modes"]
    if answers["transfer_mode"] not in modes:
        return f"transfer_mode {shown(answers['transfer_mode'])} is not one of: {', '.join(modes)}"
    if answers["transfer_mode"] == "warm" and answers["call_transfer"] == "yes":
        return realtime_conflict(answers, "transfer_mode")
    return None


# What a speech-to-speech model cannot do, which the cascade's text LLM does: the one line that says why.
NOT_WITH_REALTIME = {
    "outbound_calls": "outbound_calls=yes needs pipeline=cascade: the answering-machine check classifies "
    "the callee's words with a text LLM, which a speech-to-speech model does not offer",
    "transfer_mode": "transfer_mode=warm needs pipeline=cascade: the colleague's summary is written by a "
    "text LLM, which a speech-to-speech model does not offer",
}


def realtime_conflict(answers: dict, question: str) -> str | None:
    return NOT_WITH_REALTIME[question] if answers["pipeline"] == "realtime" else None


def outbound_calls_problem(answers: dict) -> str | None:
    problem = yes_or_no_problem("outbound_calls")(answers)
    if problem is None and answers["outbound_calls"] == "yes":
        return realtime_conflict(answers, "outbound_calls")
    return problem


def provider_problem(kind: str):
    def check(answers: dict) -> str | None:
        offered = answers["_providers"][kind]
        if answers[kind] not in offered:
            return f"{kind} {shown(answers[kind])} is not a provider; choose one of: {', '.join(offered)}"
        return None

    return check


def system_prompt_problem(answers: dict) -> str | None:
    prompt = str(answers["system_prompt"])
    if not prompt.strip():
        return "system_prompt is empty: describe what the agent does"
    if len(prompt) > MAX_SYSTEM_PROMPT:
        return f"system_prompt is longer than {MAX_SYSTEM_PROMPT} characters; keep the details in a file"
    if control_characters(prompt, allowed="\n\t"):
        return "system_prompt contains control characters (only newlines and tabs are allowed)"
    return None


def spoken_line_problem(name: str, what: str):
    """The rule of a sentence the bot speaks: one line, short enough to be said in one breath or two."""

    def check(answers: dict) -> str | None:
        line = str(answers[name])
        if not line.strip():
            return f"{name} is empty: write what the bot says {what}"
        if len(line) > MAX_SPOKEN_LINE or control_characters(line):
            return (
                f"{name} must be one line of at most {MAX_SPOKEN_LINE} characters, without control characters"
            )
        return None

    return check


DIGITS = "digits 0-9, no sign or leading zero"


def min_agents_problem(answers: dict) -> str | None:
    min_agents = count(answers["min_agents"])
    if min_agents is None or min_agents > MAX_AGENTS_CAP:
        return (
            f"min_agents {shown(answers['min_agents'])} must be a whole number from 0 to {MAX_AGENTS_CAP} "
            f"({DIGITS})"
        )
    return None


def max_agents_problem(answers: dict) -> str | None:
    max_agents = count(answers["max_agents"])
    if max_agents is None or not 1 <= max_agents <= MAX_AGENTS_CAP:
        return (
            f"max_agents {shown(answers['max_agents'])} must be a whole number from 1 to {MAX_AGENTS_CAP} "
            f"({DIGITS}); Pipecat Cloud caps a deployment at {MAX_AGENTS_CAP}"
        )
    min_agents = count(answers["min_agents"])
    if min_agents is not None and max_agents < min_agents:
        return (
            f"max_agents {max_agents} is less than min_agents {min_agents}: "
            "the warm agents must fit under the cap"
        )
    return None


def max_call_minutes_problem(answers: dict) -> str | None:
    # The session outlasts the call by a margin, so that the platform never cuts the call first.
    cap = (MAX_SESSION_SECS - int(answers["_call_end_margin_secs"])) // 60
    minutes = count(answers["max_call_minutes"])
    if minutes is None or not 1 <= minutes <= cap:
        return (
            f"max_call_minutes {shown(answers['max_call_minutes'])} must be a whole number from 1 to {cap} "
            f"({DIGITS}); Pipecat Cloud ends a session after {MAX_SESSION_SECS // 3600} hours"
        )
    return None


def yes_or_no_problem(option: str):
    def check(answers: dict) -> str | None:
        # Plain yes/no strings: cookiecutter's own booleans end a bad value in a traceback.
        if answers[option] not in YES_OR_NO:
            return f"{option} {shown(answers[option])} must be yes or no"
        return None

    return check


def transfer_number_problem(answers: dict) -> str | None:
    number = str(answers["transfer_number"])
    try:
        phone_number = re.compile(answers["_phone_number_pattern"])
    except re.error as error:
        return f"_phone_number_pattern is not a regular expression: {error}"
    if not phone_number.fullmatch(number):
        return f"transfer_number {shown(number)} is not an E.164 number such as +15555550100"
    return None


YES_OR_NO = ("yes", "no")
# Each question's rule, in the order asked; a rule may read the answers before it.
RULES = {
    "agent_name": agent_name_problem,
    "organization": organization_problem,
    "region": choice_problem("region", "_regions"),
    "pipeline": choice_problem("pipeline", "_pipelines"),
    "realtime": provider_problem("realtime"),
    "stt": provider_problem("stt"),
    "llm": provider_problem("llm"),
    "tts": provider_problem("tts"),
    "system_prompt": system_prompt_problem,
    "greeting": spoken_line_problem("greeting", "when it answers"),
    "min_agents": min_agents_problem,
    "max_agents": max_agents_problem,
    "max_call_minutes": max_call_minutes_problem,
    "call_transfer": yes_or_no_problem("call_transfer"),
    "transfer_number": transfer_number_problem,
    "transfer_mode": transfer_mode_problem,
    "call_recording": yes_or_no_problem("call_recording"),
    "dtmf_input": yes_or_no_problem("dtmf_input"),
    "outbound_calls": outbound_calls_problem,
    "voicemail_message": spoken_line_problem("voicemail_message", "to a voicemail"),
    "noise_filter": choice_problem("noise_filter", "_noise_filters"),
    "ci": yes_or_no_problem("ci"),
    "deploy": yes_or_no_problem("deploy"),
}
QUESTIONS = tuple(RULES)


def answer_problem(key: str, answers: dict) -> str | None:
    """What is wrong with one answer, given the template's facts and the answers before it; None: fine."""
    return text_problem(key, answers[key]) or RULES[key](answers)


def problems(answers: dict) -> list[str]:
    lacking = [key for key in (*TEMPLATE_FACTS, *QUESTIONS) if key not in answers]
    if lacking:
        # A replay file saved by an older version of the template, for instance.
        return [f"the answers lack {', '.join(lacking)}: answer this version's questions again (no --replay)"]
    # What no answer may hold comes first: it may be why another answer looks wrong.
    found = [problem for key in QUESTIONS if (problem := text_problem(key, answers[key]))]
    return found or [problem for key in QUESTIONS if (problem := RULES[key](answers))]


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
