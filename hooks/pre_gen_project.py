"""Validates every answer before anything is rendered; one clear line and a non-zero exit on failure.

local_extensions.AnswerGuard runs the same `problems()` while cookiecutter is still prompting, so a
bad answer from the command line stops there, before a folder exists and without cookiecutter's
traceback. This hook repeats the check for every other way in (replay files, the Python API).
"""

import json
import re
import sys

# Pipecat Cloud agent names and organization slugs share one shape.
SLUG = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_AGENT_NAME = 54
MAX_SYSTEM_PROMPT = 4000
MAX_GREETING = 300
# Facts the template keeps in cookiecutter.json, which the checks below and the agent read.
TEMPLATE_FACTS = ("_providers", "_regions", "_phone_number_pattern", "_placeholder_organization")


def problems(answers: dict) -> list[str]:
    lacking = [fact for fact in TEMPLATE_FACTS if fact not in answers]
    if lacking:
        # A replay file saved by an older version of the template, for instance.
        return [f"the answers lack {', '.join(lacking)}: answer this version's questions again (no --replay)"]
    found = []
    name = answers["agent_name"]
    if not SLUG.match(name) or len(name) > MAX_AGENT_NAME:
        found.append(
            f"agent_name {name!r} is not a Pipecat Cloud agent name: use lowercase letters, digits and "
            f"inner dashes, at most {MAX_AGENT_NAME} characters"
        )
    organization = answers["organization"]
    if not SLUG.match(organization) or len(organization) > 63:
        found.append(
            f"organization {organization!r} is not an organization slug such as industrious-purple-cat-12345 "
            "(see `pipecat cloud organizations list`)"
        )
    if answers["region"] not in answers["_regions"]:
        found.append(f"region {answers['region']!r} is not one of: {', '.join(answers['_regions'])}")
    for kind in ("stt", "llm", "tts"):
        offered = answers["_providers"][kind]
        if answers[kind] not in offered:
            found.append(f"{kind} {answers[kind]!r} is not a provider; choose one of: {', '.join(offered)}")
    prompt = answers["system_prompt"]
    if not prompt.strip():
        found.append("system_prompt is empty: describe what the agent does")
    elif len(prompt) > MAX_SYSTEM_PROMPT:
        found.append(
            f"system_prompt is longer than {MAX_SYSTEM_PROMPT} characters; keep the details in a file"
        )
    elif any(ord(ch) < 32 and ch not in "\n\t" for ch in prompt):
        found.append("system_prompt contains control characters")
    greeting = str(answers["greeting"])
    if not greeting.strip():
        found.append("greeting is empty: write what the bot says when it answers")
    elif len(greeting) > MAX_GREETING or any(ord(ch) < 32 for ch in greeting):
        found.append(f"greeting must be one line of at most {MAX_GREETING} characters")
    for option in ("call_transfer", "call_recording", "dtmf_input", "outbound_calls", "deploy"):
        # Plain yes/no strings: cookiecutter's own booleans end a bad value in a traceback.
        if answers[option] not in ("yes", "no"):
            found.append(f"{option} {answers[option]!r} must be yes or no")
    try:
        phone_number = re.compile(answers["_phone_number_pattern"])
    except re.error as error:
        return [f"_phone_number_pattern is not a regular expression: {error}"]
    if not phone_number.match(str(answers["transfer_number"])):
        number = answers["transfer_number"]
        found.append(f"transfer_number {number!r} is not an E.164 number such as +15555550100")
    min_agents = str(answers["min_agents"])
    if not min_agents.isdigit() or int(min_agents) > 50:
        found.append(f"min_agents {min_agents!r} must be a whole number from 0 to 50")
    return found


if __name__ == "__main__":
    found = problems(
        json.loads(r"""
{{ cookiecutter | tojson }}
""")
    )
    if found:
        # One line for the first problem keeps the message readable; fixing it shows the next one.
        print(f"error: {found[0]}", file=sys.stderr)
        sys.exit(1)
