"""The provider catalog is the single source of truth: check it against pipecat and the prompts."""

import dataclasses
import importlib
import inspect
import re
import tomllib
from importlib.metadata import metadata

import pytest

from tests.conftest import CATALOG, KINDS, ROOT

ENTRIES = [pytest.param(kind, key, id=f"{kind}-{key}") for kind in KINDS for key in CATALOG[kind]]
REALTIME_ENTRIES = [pytest.param(key, id=f"realtime-{key}") for key in CATALOG["realtime"]]


def test_each_category_offers_at_least_eight_providers():
    for kind in KINDS:
        assert len(CATALOG[kind]) >= 8, kind
    assert {"deepgram", "openai", "assemblyai"} <= set(CATALOG["stt"])
    assert {"openai", "anthropic", "google", "groq"} <= set(CATALOG["llm"])
    assert {"cartesia", "elevenlabs", "deepgram", "openai"} <= set(CATALOG["tts"])


def test_test_environment_installs_every_catalog_extra():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pipecat = next(dep for dep in pyproject["dependency-groups"]["test"] if dep.startswith("pipecat-ai["))
    installed = set(re.search(r"\[([^\]]+)\]", pipecat).group(1).split(","))
    assert {entry["extra"] for kind in (*KINDS, "realtime") for entry in CATALOG[kind].values()} <= installed


def constructor_parameters(service: type) -> set[str]:
    """Parameters a service accepts, following **kwargs up to the base classes that take them."""
    names: set[str] = set()
    for cls in service.__mro__:
        if "__init__" not in vars(cls):
            continue
        parameters = inspect.signature(cls.__init__).parameters
        names |= set(parameters)
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            break
    return names


def class_parameters(cls: type) -> set[str]:
    """What a class takes: a pydantic model's fields, a dataclass's, or its constructor's parameters."""
    if hasattr(cls, "model_fields"):
        return set(cls.model_fields)
    if dataclasses.is_dataclass(cls):
        return {field.name for field in dataclasses.fields(cls)}
    return constructor_parameters(cls)


def check_arguments(cls: type, arguments: dict, module: str) -> None:
    """Each argument an entry gives a class is one that class takes; nested classes are checked too."""
    assert set(arguments) <= class_parameters(cls), (cls, set(arguments) - class_parameters(cls))
    for spec in arguments.values():
        if "class" in spec:
            nested_module = spec.get("module", module)
            nested = getattr(importlib.import_module(nested_module), spec["class"])
            check_arguments(nested, spec.get("args", {}), nested_module)
        else:
            assert {"env"} <= set(spec) or {"phrase"} <= set(spec) or {"literal"} <= set(spec), spec


def check_entry(kind: str, entry: dict) -> type:
    """An entry's class exists in its extra and takes every argument, setting and nested field it is given."""
    assert entry["extra"] in metadata("pipecat-ai").get_all("Provides-Extra")
    service = getattr(importlib.import_module(entry["module"]), entry["class"])
    parameters = constructor_parameters(service)
    if entry.get("api_key"):
        assert "api_key" in parameters
    else:  # its credentials are arguments of their own, which the agent's tests fill with fake values
        assert any(spec.get("secret") for spec in entry["arguments"].values()), entry
    if entry.get("sample_rate"):
        assert "sample_rate" in parameters
    endpoint = entry.get("endpoint")
    if endpoint and "within" in endpoint:  # a field of an options object the service takes
        within = endpoint["within"]
        assert within["arg"] in parameters
        options = getattr(importlib.import_module(within["module"]), within["class"])
        assert endpoint["arg"] in class_parameters(options)
    elif endpoint:
        assert endpoint["arg"] in parameters
    check_arguments(service, entry.get("arguments", {}), entry["module"])
    check_arguments(service.Settings, entry.get("settings", {}), entry["module"])
    if kind in ("llm", "realtime"):
        assert "system_instruction" in class_parameters(service.Settings)  # the agent's prompt goes there
    return service


@pytest.mark.parametrize("kind, key", ENTRIES)
def test_entry_matches_pipecat(kind, key):
    check_entry(kind, CATALOG[kind][key])


@pytest.mark.parametrize("key", REALTIME_ENTRIES)
def test_realtime_entry_matches_pipecat(key):
    entry = CATALOG["realtime"][key]
    service = check_entry("realtime", entry)
    from pipecat.services.llm_service import LLMService

    assert issubclass(service, LLMService)
    # It announces itself as speech-to-speech, which sets pipecat's context aggregators up for it.
    assert service.service_metadata_frame is not LLMService.service_metadata_frame
    if entry.get("local_turns"):
        # The agent takes the turns: the model's own voice detection must be off, or both would.
        assert entry["settings"]["vad"]["args"]["disabled"] == {"literal": True}


def readme_row(kind: str, key: str) -> str:
    """The README's table row for one catalog entry, as the catalog gives it."""
    import local_extensions

    record = local_extensions._provider(kind, key, CATALOG[kind][key])
    required = [s.name for s in record.settings if s.required and s.name not in record.secrets]
    credentials = ", ".join(f"`{name}`" for name in (*sorted(record.secrets), *required))
    endpoint = f"`{record.endpoint.setting}`" if record.endpoint else "—"
    return f"| {kind} | `{key}` | {record.label} | `{record.extra}` | {credentials} | {endpoint} |"


def test_the_readme_lists_every_entry_as_the_catalog_says():
    readme = (ROOT / "README.md").read_text()
    listed = [line for line in readme.splitlines() if re.match(r"\| (stt|llm|tts) \| `", line)]
    expected = [readme_row(kind, key) for kind in KINDS for key in CATALOG[kind]]
    assert listed == expected, "the README's provider table should read:\n" + "\n".join(expected)
    realtime_keys = re.findall(r"^\| `(\w+)` \| [^|]+\(`\w+`\) \|", readme, re.MULTILINE)
    assert realtime_keys == list(CATALOG["realtime"])
