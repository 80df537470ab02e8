"""Serves the bot with providers that no local fake speaks swapped at the factory boundary.

The stand-ins are pipecat's OpenAI services pointed at the fake OpenAI server (FAKE_OPENAI_URL):
they speak a protocol the tests can fake, and the openai SDK ships with pipecat itself. Everything
else (the pipeline, the Twilio side, the call flow) is the agent's own.

Run: python -m tests.serve_agent cloud|local --port 8080 --swap stt,tts
"""

import argparse
import os
import sys

import uvicorn
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.openai.stt import OpenAISTTService
from pipecat.services.openai.tts import OpenAITTSService

import bot as bot_module


def _fake_openai(**settings) -> dict:
    return {"api_key": "fake-openai-key", "base_url": os.environ["FAKE_OPENAI_URL"], **settings}


FACTORY_FAKES = {
    "stt": lambda: OpenAISTTService(**_fake_openai()),
    "llm": lambda system_prompt: OpenAILLMService(
        **_fake_openai(settings=OpenAILLMService.Settings(model="fake", system_instruction=system_prompt))
    ),
    "tts": lambda: OpenAITTSService(**_fake_openai(sample_rate=24000)),
}

# The development runner looks for `bot` on __main__.
bot = bot_module.bot

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["cloud", "local"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--swap", default="")
    args = parser.parse_args()
    for kind in filter(None, args.swap.split(",")):
        setattr(bot_module, f"create_{kind}", FACTORY_FAKES[kind])
        print(f"serve_agent: {kind} swapped for a factory fake (OpenAI protocol)", flush=True)
    if args.mode == "cloud":
        from tests.pipecat_cloud_host import app

        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
    else:
        from pipecat.runner.run import main

        sys.argv = ["bot.py", "-t", "twilio", "--host", "127.0.0.1", "--port", str(args.port)]
        bot_module.warm_up_before_serving()
        main()
