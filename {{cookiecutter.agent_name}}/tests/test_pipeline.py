{%- set agent = cookiecutter | agent -%}
"""The call's pipeline, built offline exactly as bot() builds it: the chosen providers and every feature."""

import ast
import asyncio
import importlib
import inspect
{%- if agent.json_settings %}
import json
{%- endif %}
import textwrap
import typing
from concurrent.futures import ThreadPoolExecutor

import pytest
{%- if agent.json_settings %}
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from google.oauth2 import service_account
{%- endif %}
from starlette.websockets import WebSocket

import bot
import settings
from phone.stream import open_call
from phrases import GREETED, OPENING
{%- if agent.json_settings %}
from settings import MissingSetting
{%- endif %}
from startup.process import AgentProcess
{%- if agent.json_settings %}
from tests.fakes.google_oauth import new_signing_key
{%- endif %}
from tests.harness import AGENT_DIR{% if agent.json_settings %}, JSON_SETTINGS{% endif %}
from voice.greeting import Greeting
{%- if not agent.realtime %}
from voice.pipeline import build_pipeline
{%- endif %}
from voice.providers import SERVICES_BUILT_AHEAD, Providers
{%- if agent.realtime %}
from voice.realtime_pipeline import build_pipeline
{%- endif %}
from voice.services import Services


{%- if agent.json_settings %}

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
{%- endif %}


def built_by(factory) -> type:
    """The class a factory's return annotation names, found where the factory's body imports it from."""
    names = {}
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(factory)))):
        if isinstance(node, ast.ImportFrom):
            module = importlib.import_module(node.module)
            names |= {alias.name: getattr(module, alias.name) for alias in node.names}
    return typing.get_type_hints(factory, localns=names)["return"]


def processors_in(processor) -> list:
    return [processor, *(inner for child in processor.processors for inner in processors_in(child))]


async def nothing_to_receive() -> dict:
    raise AssertionError("the pipeline was only built: nothing may read from the call")


async def nothing_to_send(message: dict) -> None:
    raise AssertionError("the pipeline was only built: nothing may be sent to the call")


@pytest.fixture
def placeholder_settings(monkeypatch{% if agent.json_settings %}, fakes{% endif %}):
    for setting in settings.ALL_SETTINGS:
        if setting.required:
            monkeypatch.setenv(setting.name, f"placeholder-{setting.name.lower().replace('_', '-')}")
{%- if agent.json_settings %}
    for name in JSON_SETTINGS:  # a key file real in form
        monkeypatch.setenv(name, fakes.env[name])
{%- endif %}


def test_the_services_are_built_ahead_exactly_when_no_client_binds_to_the_event_loop(placeholder_settings):
    """SERVICES_BUILT_AHEAD, checked against the chosen SDKs: on a thread with no event loop, as the
    builder thread is, they build exactly when it is True."""

    def build_off_the_loop() -> Services | RuntimeError:
        try:
            return Providers().create_services()
        except RuntimeError as error:
            return error

    with ThreadPoolExecutor(max_workers=1) as thread:
        built = thread.submit(build_off_the_loop).result()
    if SERVICES_BUILT_AHEAD:
        assert isinstance(built, Services), built
        asyncio.run(built.close())
    else:
        assert isinstance(built, RuntimeError) and "event loop" in str(built)


{%- if agent.json_settings %}


@pytest.mark.parametrize("pasted", ['{"type": "service_account", "private_key": "-----BEGIN', '["key"]'])
def test_a_key_file_pasted_wrong_stops_with_one_line_that_names_it(placeholder_settings, monkeypatch, pasted):
    for name in JSON_SETTINGS:
        monkeypatch.setenv(name, pasted)
    refusal = rf"^{JSON_SETTINGS[0]} is not (JSON|a JSON object)\b"
    with pytest.raises(MissingSetting, match=refusal) as stopped:
        Providers().create_services()
    assert "BEGIN" not in str(stopped.value) and "\n" not in str(stopped.value)  # no part of the secret


def test_the_fake_token_endpoint_grants_a_token_to_the_key_files_own_signature_only(fakes):
    """google-auth's own refresh, against the fake Google OAuth endpoint the planted key file names."""
    key_file = json.loads(fakes.env[JSON_SETTINGS[0]])
    signed = service_account.Credentials.from_service_account_info(key_file, scopes=[CLOUD_PLATFORM])
    signed.refresh(Request())
    assert signed.token in fakes.google_oauth.tokens
    _, pem = new_signing_key()  # a key the fake never saw
    forged = service_account.Credentials.from_service_account_info(
        {**key_file, "private_key": pem}, scopes=[CLOUD_PLATFORM]
    )
    with pytest.raises(RefreshError, match="invalid_grant: Invalid JWT Signature"):
        forged.refresh(Request())
{%- endif %}


def test_the_call_pipeline_builds_offline_from_the_chosen_providers(placeholder_settings):
    process = AgentProcess(Providers())

    async def build():
        services = await process.services_ahead.take()  # as a call builds them
        websocket = WebSocket(
            {"type": "websocket", "path": "/ws", "headers": []}, nothing_to_receive, nothing_to_send
        )
        call = open_call(websocket, call_sid="CA" + "0" * 32, stream_sid="MZ" + "0" * 32, parameters={})
        features = bot.call_features(call)
        greeting = Greeting(process.spoken, OPENING, GREETED)
        worker, context = build_pipeline(call, services, features, greeting, process.turn_models)
        await services.close()  # only built: what they opened, no call will use
        return services, worker, context

    services, worker, context = asyncio.run(build())
{%- if agent.realtime %}
    assert type(services.llm) is built_by(Providers.create_realtime)
    assert services.stt is None and services.tts is None  # the model hears and speaks itself
{%- else %}
    for kind in ("stt", "llm", "tts"):
        assert type(getattr(services, kind)) is built_by(getattr(Providers, f"create_{kind}"))
{%- endif %}
    # Always end_call; transfer_call exactly when this agent has call_control/transfer.py.
    offered = sorted(tool.name for tool in context.tools.standard_tools)
    with_transfer = (AGENT_DIR / "call_control" / "transfer.py").exists()
    assert offered == (["end_call", "transfer_call"] if with_transfer else ["end_call"])
    running = {id(processor) for processor in processors_in(worker.pipeline)}
{%- if agent.realtime %}
    assert id(services.llm) in running
{%- else %}
    assert {id(services.stt), id(services.llm), id(services.tts)} <= running
{%- endif %}
