"""{{ cookiecutter.agent_name }}: a Pipecat voice agent that answers{% if cookiecutter.outbound_calls == "yes" %} and places{% endif %} Twilio phone calls.

On Pipecat Cloud, the base image accepts Twilio's Media Stream at /ws and calls `bot()` once per
call. Locally, `python bot.py -t twilio -x <public-host>` serves the same `bot()` on port 7860.
"""

import asyncio
from pathlib import Path

from loguru import logger
from pipecat.frames.frames import TTSSpeakFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
{%- if cookiecutter.dtmf_input == "yes" %}
from pipecat.processors.aggregators.dtmf_aggregator import DTMFAggregator
{%- endif %}
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.runner.types import WebSocketRunnerArguments
from pipecat.workers.runner import WorkerRunner

import greeting
import turn_models
{%- if cookiecutter.call_recording == "yes" %}
from audio_prompts import audio_prompt
{%- endif %}
from call_control import CallControl
from caller_audio import CallerAudioEnd
from providers import create_llm, create_stt, create_tts
from reply_guard import ReplyGuard
from twilio_stream import TWILIO_SAMPLE_RATE, accept_twilio_call{% if cookiecutter.call_recording == "yes" %}, send_audio_now{% endif %}
from warm_up import take_services, warm_up

SYSTEM_PROMPT = (Path(__file__).parent / "system_prompt.txt").read_text().strip()
GREETED = "A caller just connected, and you greeted them with the next message. Help with what they say."
{%- if cookiecutter.outbound_calls == "yes" %}
CALLEE_INSTRUCTION = (
    "You placed this call to {name}. Wait for them to answer, then say who you are and why you are calling."
)
{%- endif %}

# Both turn-taking models load once, when the server starts, rather than inside the first call.
turn_models.load()
_warm_up: asyncio.Task | None = None


async def readyz() -> bool:
    """Pipecat Cloud sends calls here once this is true: after the warm-up, whatever its outcome."""
    global _warm_up
    if _warm_up is None:
        _warm_up = asyncio.create_task(warm_up(create_stt, create_llm, create_tts, SYSTEM_PROMPT))
    return _warm_up.done()


def warm_up_before_serving() -> None:
    """The development runner has no readiness probe, so the warm-up runs before it serves."""
    asyncio.run(warm_up(create_stt, create_llm, create_tts, SYSTEM_PROMPT))


async def bot(runner_args: WebSocketRunnerArguments):
    call = await accept_twilio_call(runner_args.websocket)
    logger.info(f"Call {call.call_sid} started (parameters: {sorted(call.parameters)})")
{%- if cookiecutter.call_recording == "yes" %}
    # The notice plays before anything else is said; the recording itself runs in Twilio.
    await send_audio_now(call, audio_prompt("recording_notice").audio)
{%- endif %}
{%- if cookiecutter.outbound_calls == "yes" %}
    # The caller hears the greeting now, while the pipeline is still being built.
    greeted = not call.is_outbound and await greeting.send_cached(call)
{%- else %}
    # The caller hears the greeting now, while the pipeline is still being built.
    greeted = await greeting.send_cached(call)
{%- endif %}
    control = CallControl(call)

    stt, llm, tts = await take_services(create_stt, create_llm, create_tts, SYSTEM_PROMPT)
    context = LLMContext(tools=control.tools())
    # Silero VAD plus smart-turn v3 (pipecat's default turn taking) decide when the caller is done.
    user_aggregator, assistant_aggregator = LLMContextAggregatorPair(
        context, user_params=turn_models.user_turn_params()
    )
    transport = call.transport
    pipeline = Pipeline(
        [
            transport.input(),
            stt,
{%- if cookiecutter.dtmf_input == "yes" %}
            # Keypad digits become one user message when the caller presses # or pauses.
            DTMFAggregator(prefix="The caller entered "),
{%- endif %}
            user_aggregator,
            CallerAudioEnd(),
            # The caller never waits in silence: an apology, or a bundled prompt, if a provider fails.
            ReplyGuard(),
            llm,
            tts,
            # Until a greeting is cached, the first one spoken live is kept for later calls.
            *([] if greeting.cached_audio() else [greeting.GreetingCapture()]),
            transport.output(),
            assistant_aggregator,
        ]
    )
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(
            audio_in_sample_rate=TWILIO_SAMPLE_RATE,
            audio_out_sample_rate=TWILIO_SAMPLE_RATE,
            enable_metrics=True,
        ),
        idle_timeout_secs=runner_args.pipeline_idle_timeout_secs,
        # RTVI serves web and app clients; a phone line has none. Turn tracking only feeds tracing,
        # which is off. Each would watch every frame of the call.
        enable_rtvi=False,
        enable_turn_tracking=False,
    )
{%- if cookiecutter.call_transfer == "yes" %}
    control.watch(worker)
{%- endif %}

    async def greet() -> None:
        context.add_message({"role": "developer", "content": GREETED})
        if greeted:
            context.add_message({"role": "assistant", "content": greeting.GREETING})
        else:
            # No cached greeting yet: speak it live (the assistant aggregator adds it to the context).
            await worker.queue_frames([TTSSpeakFrame(greeting.GREETING)])

    @transport.event_handler("on_client_connected")
    async def start_conversation(transport, websocket):
{%- if cookiecutter.outbound_calls == "yes" %}
        if call.is_outbound:
            # The bot placed this call: the callee speaks first ("Hello?"), and its reply follows.
            name = call.parameters.get("callee_name") or "the person who answers"
            context.add_message({"role": "developer", "content": CALLEE_INSTRUCTION.format(name=name)})
        else:
            await greet()
{%- else %}
        await greet()
{%- endif %}
{%- if cookiecutter.call_recording == "yes" %}
        await control.start_recording()
{%- endif %}

    @transport.event_handler("on_client_disconnected")
    async def caller_hung_up(transport, websocket):
        logger.info(f"Call {call.call_sid}: the caller hung up")
        await worker.cancel()

    runner = WorkerRunner(handle_sigint=runner_args.handle_sigint)
    await runner.add_workers(worker)
    await runner.run()
    logger.info(f"Call {call.call_sid} ended")


if __name__ == "__main__":
    from pipecat.runner.run import main

    warm_up_before_serving()
    main()
