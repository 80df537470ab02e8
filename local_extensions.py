"""Jinja extension that checks the answers while cookiecutter prompts, before anything is written.

Cookiecutter renders every answer as a Jinja template while it prompts, before any hook runs: an
answer such as `{{ }}` ends in a raw traceback, and `{{ ... }}` with code in it would run that code
on the generating machine. The only strings cookiecutter may render are the template's own: the
values in cookiecutter.json, the hook scripts and the template's path names. Any other string with
template syntax is an answer, and it is refused.

The last variable in cookiecutter.json pipes all answers through `validate_answers`, which applies
hooks/pre_gen_project.py's checks. A problem ends generation with one `error:` line (SystemExit
passes through cookiecutter untouched) and no folder.

`{% set agent = cookiecutter | agent %}` gives a template the records it prints: the chosen
providers and every setting the agent reads, computed here from the catalog and the answers, so the
templates hold loops over plain records and no derivation.
"""

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from jinja2.ext import Extension

TEMPLATE_ROOT = Path(__file__).resolve().parent
KINDS = {"stt": "Speech-to-text", "llm": "LLM", "tts": "Text-to-speech"}
OPTIONS = ("call_transfer", "call_recording", "dtmf_input", "outbound_calls")


@dataclass(frozen=True)
class SettingRecord:
    """One environment variable the agent reads: settings.py defines it, .env.example lists it."""

    group: str  # the heading it is listed under
    name: str
    about: str
    default: str = ""
    required: bool = False
    choices: tuple[str, ...] = ()  # the only values it takes, when it is a switch

    @property
    def choices_source(self) -> str:
        """The choices as a Python tuple, for settings.py."""
        return (
            "("
            + ", ".join(json.dumps(choice) for choice in self.choices)
            + ("," * (len(self.choices) == 1))
            + ")"
        )


@dataclass(frozen=True)
class EndpointRecord:
    argument: str  # the service's constructor argument
    setting: str  # the variable that overrides it
    # The local protocol fake's URL pattern, e.g. http://{openai}/v1; None: tests use a factory fake
    fake_url: str | None


@dataclass(frozen=True)
class ProviderRecord:
    kind: str
    key: str
    label: str
    module: str
    class_name: str
    extra: str
    api_key: str
    # (Settings field, variable name), for Service.Settings(field=settings.NAME.value())
    fields: tuple[tuple[str, str], ...]
    endpoint: EndpointRecord | None
    sample_rate: int | None
    settings: tuple[SettingRecord, ...]

    @property
    def role(self) -> str:
        return KINDS[self.kind]

    @property
    def factory(self) -> str:
        return f"create_{self.kind}"

    @property
    def fake(self) -> str:
        """How the agent's tests fake it: a local server speaking its protocol, or a factory fake."""
        return "protocol" if self.endpoint and self.endpoint.fake_url else "factory"


def _agent_settings(answers: dict) -> list[SettingRecord]:
    """The settings of the agent itself, before the providers' own."""
    twilio, calls = "Twilio: the bot ends and controls its calls through Twilio's REST API", "Calls"
    found = [
        SettingRecord(twilio, "TWILIO_ACCOUNT_SID", "your Twilio account SID", required=True),
        SettingRecord(twilio, "TWILIO_AUTH_TOKEN", "its auth token", required=True),
        SettingRecord(twilio, "TWILIO_API_BASE_URL", "another REST endpoint (a proxy, a test fake)"),
        SettingRecord(twilio, "TWILIO_API_TIMEOUT_SECS", "seconds a REST request may take", "10"),
    ]
    if answers["outbound_calls"] == "yes":
        about = "the number commands/place_call.py calls from, e.g. +15551234567"
        found.append(SettingRecord(twilio, "TWILIO_PHONE_NUMBER", about))
    about = "seconds of silence after the caller finished before the bot apologizes"
    found.append(SettingRecord(calls, "REPLY_TIMEOUT_SECS", about, "6"))
    about = (
        "a call Twilio's REST API cannot confirm (an outage): accept keeps real callers on the line, "
        "refuse closes the stream"
    )
    found.append(SettingRecord(calls, "UNCONFIRMED_CALLS", about, "accept", choices=("accept", "refuse")))
    if answers["call_transfer"] == "yes":
        number = answers["transfer_number"]
        found.append(SettingRecord(calls, "TRANSFER_NUMBER", "where transfer_call sends callers", number))
    server = "Self-hosted server (server.py; Pipecat Cloud does not read these)"
    found += [
        SettingRecord(server, "PUBLIC_URL", "required by server.py: the https:// address Twilio calls"),
        SettingRecord(server, "PORT", "the port it listens on", "8000"),
        SettingRecord(server, "SERVER_WORKERS", "worker processes; each serves many calls", "2"),
        SettingRecord(server, "DRAIN_TIMEOUT_SECS", "how long calls may run on after SIGTERM", "900"),
        SettingRecord(
            server,
            "TWILIO_SIGNATURE_CHECK",
            "off accepts unsigned requests (logged)",
            "on",
            choices=("on", "off"),
        ),
    ]
    return found


def _provider(kind: str, key: str, entry: dict) -> ProviderRecord:
    label = entry["label"]
    group = f"{KINDS[kind]}: {label}"
    settings = [SettingRecord(group, entry["api_key"], "API key", required=True)]
    fields = []
    for field, setting in entry["settings"].items():
        fields.append((field, setting["env"]))
        if "default" in setting:
            settings.append(SettingRecord(group, setting["env"], field, setting["default"]))
        else:
            settings.append(SettingRecord(group, setting["env"], field, required=True))
    endpoint = entry.get("endpoint")
    if endpoint:
        settings.append(SettingRecord(group, endpoint["env"], f"endpoint, instead of {endpoint['default']}"))
    return ProviderRecord(
        kind=kind,
        key=key,
        label=label,
        module=entry["module"],
        class_name=entry["class"],
        extra=entry["extra"],
        api_key=entry["api_key"],
        fields=tuple(fields),
        endpoint=EndpointRecord(endpoint["arg"], endpoint["env"], endpoint.get("fake")) if endpoint else None,
        sample_rate=entry.get("sample_rate"),
        settings=tuple(settings),
    )


def agent_records(answers) -> dict:
    """The records the agent's templates print, from the catalog and the answers."""
    providers = [_provider(kind, answers[kind], answers["_providers"][kind][answers[kind]]) for kind in KINDS]
    settings = {record.name: record for record in _agent_settings(answers)}
    for provider in providers:
        for record in provider.settings:
            # Providers of one vendor share a key or an endpoint (OPENAI_API_KEY): listed once.
            settings.setdefault(record.name, record)
    return {
        "providers": providers,
        # Endpoint variable -> the local protocol fake's URL pattern, for the agent's tests.
        "protocol_fakes": {
            p.endpoint.setting: p.endpoint.fake_url for p in providers if p.fake == "protocol"
        },
        "settings": list(settings.values()),
        "extras": sorted({"runner", "websocket", *(provider.extra for provider in providers)}),
        "options": {option: answers[option] == "yes" for option in OPTIONS},
    }


def _strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)


def _template_owned_sources() -> frozenset[str]:
    owned = set(_strings_in(json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text())))
    owned.update(hook.read_text() for hook in (TEMPLATE_ROOT / "hooks").glob("*.py"))
    for template_dir in TEMPLATE_ROOT.glob("{{*}}"):
        owned.add(template_dir.name)
        for path in template_dir.rglob("*"):
            owned.update({path.name, str(path.relative_to(template_dir))})
    return frozenset(owned)


def _pre_gen_hook():
    """hooks/pre_gen_project.py as a module: its checks are the ones applied here."""
    spec = importlib.util.spec_from_file_location(
        "pre_gen_project", TEMPLATE_ROOT / "hooks" / "pre_gen_project.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class AnswerGuard(Extension):
    """Refuses answers with template syntax, and answers that the pre-gen hook would refuse."""

    def __init__(self, environment):
        super().__init__(environment)
        self._owned = _template_owned_sources()
        self._hook = _pre_gen_hook()
        # Rendered answer -> the answer as typed, for answers that Jinja's lexer changes (\r becomes \n).
        self._typed = {}
        environment.filters["validate_answers"] = self.validate_answers
        environment.filters["agent"] = agent_records
        environment.filters["literal"] = literal

    def preprocess(self, source, name, filename=None):
        # Files of the template are loaded by name; only strings arrive without one.
        if name is None and source not in self._owned:
            if self._hook.has_template_syntax(source):
                raise SystemExit(
                    f"error: an answer contains template syntax ({', '.join(self._hook.TEMPLATE_OPENERS)}), "
                    f"which is not allowed: {self._hook.shown(source)}"
                )
            if "\r" in source:
                self._typed[source.replace("\r\n", "\n").replace("\r", "\n")] = source
        return source

    def validate_answers(self, answers) -> str:
        # The checks see what was typed, so that a carriage return is refused rather than silently changed.
        typed = {
            key: self._typed.get(value, value) if isinstance(value, str) else value
            for key, value in answers.items()
        }
        found = self._hook.problems(typed)
        if found:
            raise SystemExit(f"error: {found[0]}")
        return "ok"


# Escapes that Python and TOML basic strings both read; every other character that is not printable is
# written as \uXXXX or \UXXXXXXXX, so no control, bidi or invisible character is hidden in the source.
SHORT_ESCAPES = {"\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _escaped(char: str, quote: str) -> str:
    if char in SHORT_ESCAPES:
        return SHORT_ESCAPES[char]
    if char == quote:
        return "\\" + char
    if char.isprintable():
        return char
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _quoted(text: str, quote: str = '"') -> str:
    return quote + "".join(_escaped(char, quote) for char in text) + quote


def literal(text) -> str:
    """A string as a Python or TOML literal, in double quotes, that reads back as exactly the same string."""
    return _quoted(str(text))
