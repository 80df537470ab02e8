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
import inspect
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from jinja2.ext import Extension

TEMPLATE_ROOT = Path(__file__).resolve().parent
KINDS = {"stt": "Speech-to-text", "llm": "LLM", "tts": "Text-to-speech"}
# pipeline=realtime: one speech-to-speech service hears the caller and speaks, in place of the three.
REALTIME = "realtime"
ROLES = {**KINDS, REALTIME: "Speech-to-speech"}
# Phrases a catalog entry may hand a service ({"phrase": ...}), all from the agent's phrases package.
CATALOG_PHRASES = ("SYSTEM_PROMPT",)
LINE_LENGTH = 110  # the agent's ruff line length: generated code is laid out within it
OPTIONS = ("call_transfer", "call_recording", "dtmf_input", "outbound_calls")
YES_OR_NO_QUESTIONS = (*OPTIONS, "ci", "deploy")


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
class Call:
    """A constructor call the agent's code makes, from a catalog entry: `name(keyword=value, ...)`.

    A value is Python source (a setting, a phrase) or another Call; the keyword "**" splats its value.
    """

    name: str
    arguments: tuple[tuple[str, "Call | str"], ...] = ()

    def flat(self) -> str:
        parts = [value_source(keyword, value) for keyword, value in self.arguments]
        return f"{self.name}({', '.join(parts)})"

    def lines(self, indent: int, prefix: str = "", suffix: str = "") -> list[str]:
        """The call laid out as ruff formats it: on one line if it fits, else one argument per line."""
        one_line = f"{' ' * indent}{prefix}{self.flat()}{suffix}"
        if len(one_line) <= LINE_LENGTH or not self.arguments:
            return [one_line]
        found = [f"{' ' * indent}{prefix}{self.name}("]
        for keyword, value in self.arguments:
            argument = "**" if keyword == "**" else f"{keyword}="
            if isinstance(value, Call):
                found += value.lines(indent + 4, argument, ",")
            else:
                found.append(f"{' ' * (indent + 4)}{argument}{value},")
        return [*found, f"{' ' * indent}){suffix}"]


def value_source(keyword: str, value: "Call | str") -> str:
    source = value.flat() if isinstance(value, Call) else value
    return f"**{source}" if keyword == "**" else f"{keyword}={source}"


def import_lines(names_by_module: dict[str, set[str]], indent: str = "") -> list[str]:
    """`from module import A, B` lines for the given names, sorted and wrapped as ruff's isort does."""
    found = []
    for module in sorted(names_by_module):
        names = sorted(names_by_module[module])
        line = f"{indent}from {module} import {', '.join(names)}"
        if len(line) <= LINE_LENGTH:
            found.append(line)
        else:
            wrapped = [f"{indent}    {name}," for name in names]
            found += [f"{indent}from {module} import (", *wrapped, f"{indent})"]
    return found


@dataclass(frozen=True)
class ProviderRecord:
    kind: str
    key: str
    label: str
    module: str
    class_name: str
    extra: str
    api_key: str
    endpoint: EndpointRecord | None
    settings: tuple[SettingRecord, ...]
    # The factory's body (the constructor call, laid out as ruff formats it) and the names it imports.
    construction: tuple[str, ...] = ()
    imports: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (module, names)
    # The settings that hold credentials: each is required, and the tests plant a fake value in it.
    secrets: tuple[str, ...] = ()
    # A speech-to-speech model that announces no caller speech (Gemini Live): the agent's own VAD and
    # turn model take the turns, and tell the model where each starts and ends.
    local_turns: bool = False
    # A speech-to-speech service that reconnects when its connection fails (Gemini Live, up to 3 times in a
    # row), so that the call goes on; the others report the failure, and the call ends politely.
    reconnects: bool = False
    # The agent's test fake of its protocol, module.Class under tests/fakes/, where it has its own.
    fake_server: str | None = None
    # What binds the service to the event loop it is built on ("its gRPC client"), if anything: then each
    # call builds its services on its own loop, not ahead on the builder thread.
    built_on_the_loop: str | None = None
    # Its settings that hold JSON (a Google service account key), which the tests fill with a real-shaped one.
    json_settings: tuple[str, ...] = ()

    @property
    def factory_imports(self) -> list[str]:
        """The factory's own import lines, inside its body: the SDK loads when the service is first built."""
        return import_lines({module: set(names) for module, names in self.imports}, indent=" " * 8)

    @property
    def role(self) -> str:
        return ROLES[self.kind]

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
    about = "seconds of silence from the caller before the bot checks in; a second one ends the call; 0: off"
    found.append(SettingRecord(calls, "IDLE_TIMEOUT_SECS", about, "10"))
    about = "the longest a call lasts: the bot wraps up shortly before, then ends it; 0: no limit of its own"
    found.append(SettingRecord(calls, "MAX_CALL_SECS", about, str(int(answers["max_call_minutes"]) * 60)))
    if answers["call_transfer"] == "yes":
        number = answers["transfer_number"]
        found.append(SettingRecord(calls, "TRANSFER_NUMBER", "where transfer_call sends callers", number))
        about = "seconds the transfer number may ring before the caller is back with the bot"
        found.append(SettingRecord(calls, "TRANSFER_RING_SECS", about, "20"))
    reports = "Call reports: a JSON record of each call, logged and optionally POSTed"
    about = "an https:// endpoint (your CRM's) that receives each call's record as a JSON POST"
    found.append(SettingRecord(reports, "CALL_REPORT_URL", about))
    about = "seconds the endpoint may take to answer; a failure or a timeout is retried once"
    found.append(SettingRecord(reports, "CALL_REPORT_TIMEOUT_SECS", about, "5"))
    about = "yes adds what the caller and the bot said: personal data, so off unless you need it"
    found.append(SettingRecord(reports, "CALL_REPORT_TRANSCRIPT", about, "no", choices=("no", "yes")))
    server = "Self-hosted server (server.py; Pipecat Cloud does not read these)"
    about = "required by server.py: the https:// address Twilio calls"
    if answers["call_transfer"] == "yes":
        about += "; a transfer that ends brings the caller back there"
    found += [
        SettingRecord(server, "PUBLIC_URL", about),
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


class _ServiceBuilder:
    """Turns a catalog entry into the Call that builds its service, the settings it reads and its imports."""

    def __init__(self, kind: str, entry: dict) -> None:
        self.kind = kind
        self.entry = entry
        self.group = f"{ROLES[kind]}: {entry['label']}"
        self.settings: list[SettingRecord] = []
        self.secrets: list[str] = []
        self.json_settings: list[str] = []
        self.classes: dict[str, set[str]] = {entry["module"]: {entry["class"]}}

    def value(self, keyword: str, spec: dict, module: str) -> "Call | str":
        """A setting ({"env"}), a phrase, a literal, or a class ({"class", "args"}, in `module` unless it
        names its own, which its arguments inherit)."""
        if "env" in spec:
            about = spec.get("about", keyword)
            if "default" in spec:
                self.settings.append(SettingRecord(self.group, spec["env"], about, spec["default"]))
            else:
                self.settings.append(SettingRecord(self.group, spec["env"], about, required=True))
            if spec.get("secret"):
                self.secrets.append(spec["env"])
            if spec.get("type") == "json":  # checked at start-up, so that a pasted key that broke shows then
                self.json_settings.append(spec["env"])
                return f"settings.{spec['env']}.json_text()"
            source = f"settings.{spec['env']}.value()"
            return f"int({source})" if spec.get("type") == "int" else source  # e.g. Camb's numeric voice IDs
        if "phrase" in spec:
            if spec["phrase"] not in CATALOG_PHRASES:
                raise ValueError(f"{self.group}: {spec['phrase']} is not one of {CATALOG_PHRASES}")
            return spec["phrase"]
        if "literal" in spec:
            return repr(spec["literal"])  # Python source: True, 24000, 'text'
        module = spec.get("module", module)
        self.classes.setdefault(module, set()).add(spec["class"])
        arguments = [(name, self.value(name, item, module)) for name, item in spec.get("args", {}).items()]
        return Call(spec["class"], tuple(arguments))

    def call(self) -> Call:
        entry, arguments, module = self.entry, [], self.entry["module"]
        if entry.get("api_key"):
            key = {"env": entry["api_key"], "about": "API key", "secret": True}
            arguments.append(("api_key", self.value("api_key", key, module)))
        if entry.get("sample_rate"):  # a voice that speaks only at this rate; the serializer resamples it
            arguments.append(("sample_rate", repr(entry["sample_rate"])))
        for name, spec in entry.get("arguments", {}).items():
            arguments.append((name, self.value(name, spec, module)))
        prompted = self.kind in ("llm", REALTIME)  # the models that take the system prompt
        if entry.get("settings") or prompted:
            fields = [(name, self.value(name, spec, module)) for name, spec in entry["settings"].items()]
            if prompted:
                fields.append(("system_instruction", "SYSTEM_PROMPT"))
            arguments.append(("settings", Call(f"{entry['class']}.Settings", tuple(fields))))
        endpoint = entry.get("endpoint")
        if endpoint:
            about = f"endpoint, instead of {endpoint['default']}"
            self.settings.append(SettingRecord(self.group, endpoint["env"], about))
            override = ("**", f'settings.{endpoint["env"]}.as_argument("{endpoint["arg"]}")')
            within = endpoint.get("within")
            if within:  # the URL is a field of an options object: HttpOptions(base_url=...)
                self.classes.setdefault(within["module"], set()).add(within["class"])
                arguments.append((within["arg"], Call(within["class"], (override,))))
            else:
                arguments.append(override)
        return Call(entry["class"], tuple(arguments))


def _provider(kind: str, key: str, entry: dict) -> ProviderRecord:
    builder = _ServiceBuilder(kind, entry)
    call = builder.call()
    endpoint = entry.get("endpoint")
    return ProviderRecord(
        kind=kind,
        key=key,
        label=entry["label"],
        module=entry["module"],
        class_name=entry["class"],
        extra=entry["extra"],
        api_key=entry.get("api_key") or builder.secrets[0],
        endpoint=EndpointRecord(endpoint["arg"], endpoint["env"], endpoint.get("fake")) if endpoint else None,
        settings=tuple(builder.settings),
        construction=tuple(call.lines(8, "return ")),
        imports=tuple((module, tuple(sorted(names))) for module, names in builder.classes.items()),
        secrets=tuple(builder.secrets),
        local_turns=entry.get("local_turns", False),
        reconnects=entry.get("reconnects", False),
        fake_server=(endpoint or {}).get("fake_server"),
        built_on_the_loop=entry.get("built_on_the_loop"),
        json_settings=tuple(builder.json_settings),
    )


def annotation_imports(providers: list[ProviderRecord]) -> list[str]:
    """The classes the factories are annotated to return, imported for type checkers only."""
    names_by_module: dict[str, set[str]] = {}
    for provider in providers:
        names_by_module.setdefault(provider.module, set()).add(provider.class_name)
    return import_lines(names_by_module, indent=" " * 4)


def chosen_providers(answers) -> list[ProviderRecord]:
    catalog = answers["_providers"]
    if answers["pipeline"] == REALTIME:
        return [_provider(REALTIME, answers[REALTIME], catalog[REALTIME][answers[REALTIME]])]
    return [_provider(kind, answers[kind], catalog[kind][answers[kind]]) for kind in KINDS]


def agent_records(answers) -> dict:
    """The records the agent's templates print, from the catalog and the answers."""
    providers = chosen_providers(answers)
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
        "annotation_imports": annotation_imports(providers),
        "options": {option: answers[option] == "yes" for option in OPTIONS},
        "warm_transfer": answers["call_transfer"] == "yes" and answers["transfer_mode"] == "warm",
        "realtime": answers["pipeline"] == REALTIME,
        # The speech-to-speech API the tests serve: the model's own protocol fake, else OpenAI's, which the
        # factory fakes (tests.serve_agent) speak in place of the others.
        "realtime_fake": next(
            (p.fake_server for p in providers if p.fake_server), "openai_realtime_server.FakeOpenAIRealtime"
        ).split("."),
        # Each credential once, though providers of one vendor share it.
        "secrets": sorted({name for provider in providers for name in provider.secrets}),
        # The providers' other settings without a default (a deployment, a region, a model to name).
        "required_settings": sorted(
            {
                record.name
                for provider in providers
                for record in provider.settings
                if record.required and record.name not in provider.secrets
            }
        ),
        # The services each call builds on its own event loop, and why: none, and they are built ahead.
        "built_on_the_loop": [(p.label, p.built_on_the_loop) for p in providers if p.built_on_the_loop],
        "json_settings": sorted({name for provider in providers for name in provider.json_settings}),
        "noise_filter": answers["noise_filter"] == "krisp",
        # pcc-deploy.toml's max_session_duration: the call's limit plus the margin to end it.
        "max_session_secs": int(answers["max_call_minutes"]) * 60 + int(answers["_call_end_margin_secs"]),
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


def load_pre_gen_hook():
    """hooks/pre_gen_project.py as a module: its checks apply here and in generate_agents.py."""
    spec = importlib.util.spec_from_file_location(
        "pre_gen_project", TEMPLATE_ROOT / "hooks" / "pre_gen_project.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# A question asked only when an earlier answer calls for it: question -> (earlier question, that answer).
ASKED_ONLY_IF = {
    "realtime": ("pipeline", REALTIME),
    **{kind: ("pipeline", "cascade") for kind in KINDS},
    "transfer_number": ("call_transfer", "yes"),
    "transfer_mode": ("call_transfer", "yes"),
    "voicemail_message": ("outbound_calls", "yes"),
}


class AnswerGuard(Extension):
    """Refuses answers with template syntax, and answers that the pre-gen hook would refuse.

    At a terminal it also asks cookiecutter's questions its own way (see `ask`): menus for every
    choice, each answer checked as it is typed, and no question that an earlier "no" made moot.
    """

    def __init__(self, environment):
        super().__init__(environment)
        self._owned = _template_owned_sources()
        self._hook = load_pre_gen_hook()
        self._catalog = json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text())
        # Rendered answer -> the answer as typed, for answers that Jinja's lexer changes (\r becomes \n).
        self._typed = {}
        self.answers_so_far: dict = {}  # cookiecutter's, while it prompts
        self.questions = self._hook.QUESTIONS
        self._organizations: list[str] = []  # the logged-in user's, once looked up
        environment.filters["validate_answers"] = self.validate_answers
        environment.filters["agent"] = agent_records
        environment.filters["literal"] = literal
        environment.filters["or_the_logged_in_organization"] = self.or_the_logged_in_organization
        _ask_questions_through_guards()

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

    def or_the_logged_in_organization(self, placeholder: str) -> str:
        """The organization's default: the login's only one, or its active one; else the placeholder."""
        found = logged_in_organizations()
        self._organizations = list(found.slugs)
        if found.note:
            print(found.note)
        if len(found.slugs) == 1:
            return found.slugs[0]
        return found.active if found.active in found.slugs else placeholder

    def menu(self, question: str, default) -> dict[str, str]:
        """The choices of a question asked as a menu, each with its label; empty for a typed answer."""
        catalog = self._catalog
        if question in ROLES:
            providers = catalog["_providers"][question]
            choices = {key: f"{key}: {entry['label']}" for key, entry in providers.items()}
        elif question == "region":
            choices = {region: region for region in catalog["_regions"]}
        elif question == "transfer_mode":
            choices = {mode: mode for mode in catalog["_transfer_modes"]}
        elif question == "pipeline":
            choices = {name: name for name in catalog["_pipelines"]}
        elif question == "noise_filter":
            choices = {name: name for name in catalog["_noise_filters"]}
        elif question in YES_OR_NO_QUESTIONS:
            choices = {"no": "no", "yes": "yes"}  # without a valid default, Enter means no
        elif question == "organization" and len(self._organizations) > 1:
            placeholder = catalog["_placeholder_organization"]
            choices = {org: org for org in self._organizations}
            choices[placeholder] = f"{placeholder}: fill it in later"
        else:
            return {}
        # The default first, as in cookiecutter's own menus.
        return {default: choices[default], **choices} if default in choices else choices

    def ask(self, originals, question: str, default, prompts: dict | None, prefix: str):
        """Asks one question, by menu or typed, until the answer passes its rule."""
        problem = self._problem(question, default)
        earlier = ASKED_ONLY_IF.get(question)
        if earlier and self.answers_so_far.get(earlier[0]) != earlier[1] and problem is None:
            return default  # moot after that answer, and its default is fine
        prompts = prompts or {}
        choices = self.menu(question, default)
        while True:
            if problem:  # typed just now, or given on the command line or in a config
                print(f"  {problem}: try again")
            if choices:
                labelled = {**prompts, question: {"__prompt__": prompts.get(question, question), **choices}}
                answer = originals.read_user_choice(question, list(choices), labelled, prefix)
            else:
                answer = originals.read_user_variable(question, default, prompts, prefix)
            problem = self._problem(question, answer)
            if problem is None:
                return answer

    def _problem(self, question: str, answer) -> str | None:
        return self._hook.answer_problem(question, {**self._catalog, **self.answers_so_far, question: answer})


# What _ask_questions_through_guards() relies on in cookiecutter.prompt: each function, its parameters.
COOKIECUTTER_PROMPT_FUNCTIONS = {
    "read_user_variable": ["var_name", "default_value", "prompts", "prefix"],
    "read_user_choice": ["var_name", "options", "prompts", "prefix"],
    "render_variable": ["env", "raw", "cookiecutter_dict"],
}


def _ask_questions_through_guards() -> None:
    """Has cookiecutter's prompt loop ask this template's questions through its AnswerGuard.

    Cookiecutter's numbered menus come from list variables, but a bad list value on the command line
    (`stt=mars`) ends in a ValueError traceback before any template code runs. So the choices stay plain
    strings, checked at the end with one `error:` line, and at a terminal this turns their questions
    into cookiecutter's own menus. With a cookiecutter whose prompt functions differ, the questions stay
    plain and the answers are still checked at the end. Installed once per process.
    """
    try:
        from cookiecutter import prompt
    except ImportError:
        return
    for name, parameters in COOKIECUTTER_PROMPT_FUNCTIONS.items():
        function = getattr(prompt, name, None)
        if function is None or list(inspect.signature(function).parameters) != parameters:
            return
    if getattr(prompt.read_user_variable, "asks_through_answer_guards", False):
        return  # installed already
    originals = type(
        "Originals", (), {name: staticmethod(getattr(prompt, name)) for name in COOKIECUTTER_PROMPT_FUNCTIONS}
    )
    guarded = {"guard": None}

    def render_variable(env, raw, cookiecutter_dict):
        # Runs before each question: the guard learns the answers so far (None: another template's).
        guard = env.extensions.get(AnswerGuard.identifier)
        if guard is not None:
            guard.answers_so_far = cookiecutter_dict
        guarded["guard"] = guard
        return originals.render_variable(env, raw, cookiecutter_dict)

    def read_user_variable(var_name, default_value, prompts=None, prefix=""):
        guard = guarded["guard"]
        # Piped answers are read in order: asking again would shift each later one onto the wrong
        # question, so they get plain questions and the one `error:` line at the end.
        if guard is None or var_name not in guard.questions or not sys.stdin.isatty():
            return originals.read_user_variable(var_name, default_value, prompts, prefix)
        return guard.ask(originals, var_name, default_value, prompts, prefix)

    read_user_variable.asks_through_answer_guards = True
    prompt.render_variable = render_variable
    prompt.read_user_variable = read_user_variable


# pipecatcloud 1.4's CLI: its login (cli/config.py), its API host (config.py), and the organizations
# route its `organizations list` reads (api.py), which answers {"organizations": [{"name", "verboseName"}]}.
PIPECAT_CONFIG_PATH = Path("~/.config/pipecatcloud/pipecatcloud.toml")
PIPECAT_API_HOST = "https://api.pipecat.daily.co"
ORGANIZATIONS_PATH = "/v1/organizations"
LOOKUP_TIMEOUT_SECS = 3  # for Pipecat Cloud's answer
CLI_TIMEOUT_SECS = 10  # for `pipecat cloud organizations list`, which renews an expired login first
KEEPING = "keeping the placeholder organization"


@dataclass(frozen=True)
class Organizations:
    """What the organization question offers: the login's organizations, its active one, and why none."""

    slugs: tuple[str, ...] = ()
    active: str | None = None
    note: str | None = None  # one line for the user, when a lookup was tried and found nothing


def _cli_setting(saved: dict, key: str):
    """A setting as the CLI reads it: a PIPECAT_ variable that is set (even empty), then the config
    file's top level, then the active organization's section."""
    variable = "PIPECAT_" + key.upper()
    if variable in os.environ:
        return os.environ[variable]
    if key in saved:
        return saved[key]
    profile = saved.get(saved.get("org", ""), {})
    return profile.get(key) if isinstance(profile, dict) else None


def _login_expired(token: str, expires_at) -> bool:
    """The CLI's own test (api.py): OAuth tokens renew 60 s before they expire; access tokens never do."""
    if token.startswith("pcc_pat_") or expires_at is None:
        return False
    try:
        return time.time() > float(expires_at) - 60
    except (TypeError, ValueError):
        return True


def _slugs(listing) -> tuple[str, ...]:
    organizations = listing.get("organizations") if isinstance(listing, dict) else None
    return tuple(org["name"] for org in organizations or [] if isinstance(org, dict) and "name" in org)


def logged_in_organizations() -> Organizations:
    """The organizations of the `pipecat` CLI's login; none, with nothing asked, when it has no login."""
    path = Path(os.environ.get("PIPECAT_CONFIG_PATH") or PIPECAT_CONFIG_PATH.expanduser())
    try:
        saved = tomllib.loads(path.read_text()) if path.is_file() else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        return Organizations(note=f"Cannot read the pipecat CLI's config {path} ({error}): {KEEPING}.")
    token, active = _cli_setting(saved, "token"), _cli_setting(saved, "org") or None
    if not token:
        return Organizations()  # no login: nothing to ask, and nothing to wait for
    if _login_expired(token, _cli_setting(saved, "token_expires_at")):
        slugs, note = _organizations_from_cli()
        return Organizations(slugs, active, note)
    host = os.environ.get("PIPECAT_API_HOST", PIPECAT_API_HOST).rstrip("/")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    request = urllib.request.Request(host + ORGANIZATIONS_PATH, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=LOOKUP_TIMEOUT_SECS) as response:
            slugs = _slugs(json.loads(response.read()))
    except urllib.error.HTTPError as error:
        login = "; log in again with `pipecat cloud auth login`" if error.code in (401, 403) else ""
        note = f"Pipecat Cloud answered HTTP {error.code} to the organization lookup{login}: {KEEPING}."
        return Organizations(active=active, note=note)
    except (OSError, ValueError) as error:  # unreachable, timed out, or not JSON
        note = f"Could not look up your Pipecat Cloud organizations ({error}): {KEEPING}."
        return Organizations(active=active, note=note)
    note = None if slugs else f"Pipecat Cloud lists no organization for this login: {KEEPING}."
    return Organizations(slugs, active, note)


def _organizations_from_cli() -> tuple[tuple[str, ...], str | None]:
    """(slugs, None), or ((), why not), from `pipecat cloud organizations list`: the CLI renews an
    expired login with its refresh token before it asks."""
    pipecat = shutil.which("pipecat")
    if pipecat is None:
        return (), f"The pipecat CLI's login has expired: run `pipecat cloud auth login`; {KEEPING}."
    command = [pipecat, "cloud", "--output", "json", "organizations", "list"]
    try:
        listed = subprocess.run(
            command, capture_output=True, text=True, timeout=CLI_TIMEOUT_SECS, stdin=subprocess.DEVNULL
        )
        slugs = _slugs(json.loads(listed.stdout)) if listed.returncode == 0 else ()
    except (OSError, subprocess.TimeoutExpired, ValueError) as error:
        return (), f"`pipecat cloud organizations list` failed ({error}): {KEEPING}."
    if not slugs:
        return (), f"`pipecat cloud organizations list` found no organization (renew the login?): {KEEPING}."
    return slugs, None


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
