{%- set agent = cookiecutter | agent -%}
"""The call's pipeline, built offline exactly as bot() builds it: the chosen providers and every feature."""

import asyncio
import typing

from starlette.websockets import WebSocket

import bot
import settings
from phone.stream import open_call
from phrases import GREETED, OPENING
from startup.process import AgentProcess
from tests.harness import AGENT_DIR
from voice.greeting import Greeting
{%- if not agent.realtime %}
from voice.pipeline import build_pipeline
{%- endif %}
from voice.providers import Providers
{%- if agent.realtime %}
from voice.realtime_pipeline import build_pipeline
{%- endif %}


def processors_in(processor) -> list:
    return [processor, *(inner for child in processor.processors for inner in processors_in(child))]


async def nothing_to_receive() -> dict:
    raise AssertionError("the pipeline was only built: nothing may read from the call")


async def nothing_to_send(message: dict) -> None:
    raise AssertionError("the pipeline was only built: nothing may be sent to the call")


def test_the_call_pipeline_builds_offline_from_the_chosen_providers(monkeypatch):
    for setting in settings.ALL_SETTINGS:
        if setting.required:
            monkeypatch.setenv(setting.name, f"placeholder-{setting.name.lower().replace('_', '-')}")
    process = AgentProcess(Providers())

    async def build():
        services = await process.services_ahead.take()  # on the builder thread, as a call builds them
        websocket = WebSocket(
            {"type": "websocket", "path": "/ws", "headers": []}, nothing_to_receive, nothing_to_send
        )
        call = open_call(websocket, call_sid="CA" + "0" * 32, stream_sid="MZ" + "0" * 32, parameters={})
        features = bot.call_features(call)
        greeting = Greeting(process.spoken, OPENING, GREETED)
        worker, context = build_pipeline(call, services, features, greeting, process.turn_models)
        return services, worker, context

    services, worker, context = asyncio.run(build())
{%- if agent.realtime %}
    chosen = typing.get_type_hints(Providers.create_realtime)["return"]
    assert type(services.llm) is chosen
    assert services.stt is None and services.tts is None  # the model hears and speaks itself
{%- else %}
    for kind in ("stt", "llm", "tts"):
        chosen = typing.get_type_hints(getattr(Providers, f"create_{kind}"))["return"]
        assert type(getattr(services, kind)) is chosen
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
