{%- set agent = cookiecutter | agent -%}
"""Serves the agent with the providers that no local fake speaks replaced at the factory boundary.
{%- if agent.realtime %}

The stand-in is pipecat's OpenAI Realtime service pointed at the fake one (FAKE_OPENAI_REALTIME_URL):
{%- else %}

The stand-ins are pipecat's OpenAI services pointed at the fake OpenAI server (FAKE_OPENAI_URL):
{%- endif %}
they speak a protocol the tests can fake, and the openai SDK ships with pipecat itself. Everything
else (the pipeline, the Twilio side, the call flow) is the agent's own: bot() runs unchanged, in a
process of its own whose Providers are these.

Run: python -m tests.serve_agent cloud|local|server --port 8080
"""

import argparse
import os
import sys
{%- if agent.realtime %}

from pipecat.services.llm_service import LLMService
from pipecat.services.openai.realtime.events import (
    AudioConfiguration,
    AudioInput,
    InputAudioTranscription,
    SessionProperties,
)
from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
{%- else %}

from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.openai.stt import OpenAISTTService
from pipecat.services.openai.tts import OpenAITTSService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService
{%- endif %}

import bot as agent
from phrases import SYSTEM_PROMPT
from startup.process import AgentProcess
from tests.harness import FACTORY_FAKE_KEY, FACTORY_FAKES
from voice.providers import Providers
{%- if not agent.realtime %}


def _fake_openai(**settings) -> dict:
    return {"api_key": FACTORY_FAKE_KEY, "base_url": os.environ["FAKE_OPENAI_URL"], **settings}
{%- endif %}


class FactoryFakes(Providers):
    """The agent's providers, with each kind in `swapped` built as an OpenAI-protocol stand-in."""

    def __init__(self, swapped: list[str]) -> None:
        self.swapped = swapped

{%- if agent.realtime %}

    def create_realtime(self) -> LLMService:
        if "realtime" not in self.swapped:
            return super().create_realtime()
        # OpenAI's speech-to-speech protocol, which tests/fakes/openai_realtime_server.py speaks.
        transcribed = AudioConfiguration(input=AudioInput(transcription=InputAudioTranscription()))
        session = SessionProperties(audio=transcribed)
        settings = OpenAIRealtimeLLMService.Settings(
            model="fake", system_instruction=SYSTEM_PROMPT, session_properties=session
        )
        url = os.environ["FAKE_OPENAI_REALTIME_URL"]
        return OpenAIRealtimeLLMService(api_key=FACTORY_FAKE_KEY, base_url=url, settings=settings)
{%- else %}

    def create_stt(self) -> STTService:
        if "stt" not in self.swapped:
            return super().create_stt()
        return OpenAISTTService(**_fake_openai())

    def create_llm(self) -> OpenAILLMService:
        if "llm" not in self.swapped:
            return super().create_llm()
        settings = OpenAILLMService.Settings(model="fake", system_instruction=SYSTEM_PROMPT)
        return OpenAILLMService(**_fake_openai(settings=settings))

    def create_tts(self) -> TTSService:
        if "tts" not in self.swapped:
            return super().create_tts()
        return OpenAITTSService(**_fake_openai(sample_rate=24000))  # OpenAI speech is 24 kHz only
{%- endif %}


PROCESS = AgentProcess(FactoryFakes(FACTORY_FAKES))


async def bot(runner_args) -> None:
    """The agent's bot(), in this process with the factory fakes; pipecat's runner looks it up on __main__."""
    await agent.bot(runner_args, PROCESS)


async def readyz() -> bool:
    return await PROCESS.readyz()


def load_agent():
    """server.py's seam: each of its workers serves this module's bot() and readyz()."""
    return bot, readyz


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["cloud", "local", "server"])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    print(f"serve_agent: {', '.join(FACTORY_FAKES)} replaced by factory fakes (OpenAI protocol)", flush=True)
    if args.mode == "cloud":
        from tests.pipecat_cloud_host import serve

        serve(bot, readyz, args.port)
    elif args.mode == "server":
        import server

        sys.exit(server.serve(load_agent, args.port))
    else:
        from startup import dev_runner

        sys.argv = ["bot.py", "-t", "twilio", "--host", "127.0.0.1", "--port", str(args.port)]
        dev_runner.serve(PROCESS)
