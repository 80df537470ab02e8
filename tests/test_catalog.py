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


@pytest.mark.parametrize("kind, key", ENTRIES)
def test_entry_matches_pipecat(kind, key):
    entry = CATALOG[kind][key]
    assert entry["extra"] in metadata("pipecat-ai").get_all("Provides-Extra")
    service = getattr(importlib.import_module(entry["module"]), entry["class"])
    parameters = constructor_parameters(service)
    assert "api_key" in parameters
    if "endpoint" in entry:
        assert entry["endpoint"]["arg"] in parameters
    if "sample_rate" in entry:
        assert "sample_rate" in parameters
    settings = {field.name for field in dataclasses.fields(service.Settings)}
    assert set(entry["settings"]) <= settings


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


@pytest.mark.parametrize("key", REALTIME_ENTRIES)
def test_realtime_entry_matches_pipecat(key):
    entry = CATALOG["realtime"][key]
    assert entry["extra"] in metadata("pipecat-ai").get_all("Provides-Extra")
    service = getattr(importlib.import_module(entry["module"]), entry["class"])
    from pipecat.services.llm_service import LLMService

    assert issubclass(service, LLMService)
    # It announces itself as speech-to-speech, which sets pipecat's context aggregators up for it.
    assert service.service_metadata_frame is not LLMService.service_metadata_frame
    parameters = constructor_parameters(service)
    if entry.get("api_key"):
        assert "api_key" in parameters
    if "endpoint" in entry:
        assert entry["endpoint"]["arg"] in parameters
    check_arguments(service, entry.get("arguments", {}), entry["module"])
    if "settings" in entry:
        assert "system_instruction" in class_parameters(service.Settings)
        check_arguments(service.Settings, entry["settings"], entry["module"])
