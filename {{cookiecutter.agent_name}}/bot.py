{%- set agent = cookiecutter | agent -%}
{%- set options = agent.options -%}
"""{{ cookiecutter.agent_name }}: a Pipecat voice agent for Twilio phone calls.

It answers{% if options.outbound_calls %} and places{% endif %} calls. On Pipecat Cloud, the base image accepts Twilio's Media Stream at /ws
and calls `bot()` once per call. Locally, `python bot.py -t twilio -x <public-host>` serves the same
`bot()` on port 7860; `python server.py` is the self-hosted production server.
"""

from loguru import logger
from pipecat.runner.types import WebSocketRunnerArguments
from pipecat.workers.runner import WorkerRunner

from call_control.call_report import CallReport
{%- if options.dtmf_input %}
from call_control.dtmf import KeypadInput
{%- endif %}
from call_control.end_call import EndCall
from call_control.feature import CallFeature
from call_control.idle_caller import IdleCaller
{%- if options.outbound_calls %}
from call_control.outbound import CalleeSpeaksFirst
{%- endif %}
{%- if options.call_recording %}
from call_control.recording import Recording
{%- endif %}
from call_control.time_limit import TimeLimit
{%- if options.call_transfer and not agent.warm_transfer %}
from call_control.transfer import Transfer
{%- endif %}
{%- if options.outbound_calls %}
from call_control.voicemail import AnsweringMachine
{%- endif %}
{%- if agent.warm_transfer %}
from call_control.warm_transfer import WarmTransfer
{%- endif %}
from phone.caller_check import ConfirmedCall
from phone.stream import EndedBy, TwilioCall, TwilioStreamError, accept_twilio_call
from phrases import GREETED, OPENING
from startup.process import AgentProcess
from voice.greeting import Greeting
{%- if agent.noise_filter %}
from voice.noise_filter import NoiseFilter
{%- endif %}
{%- if not agent.realtime %}
from voice.pipeline import build_pipeline
{%- endif %}
from voice.providers import Providers
{%- if agent.realtime %}
from voice.realtime_pipeline import build_pipeline
{%- endif %}

# Shared by every call this process serves: the turn models, the spoken greeting, services built ahead.
PROCESS = AgentProcess(Providers())


async def readyz() -> bool:
    """Pipecat Cloud sends calls here once this is true: after the warm-up, whatever its outcome."""
    return await PROCESS.readyz()


def call_features(call: TwilioCall) -> list[CallFeature]:
    """The call-control options this agent was generated with, one line each."""
    return [
        CallReport(call),
        EndCall(call),
        IdleCaller(call),
        TimeLimit(call),
{%- if agent.warm_transfer %}
        WarmTransfer(call),
{%- elif options.call_transfer %}
        Transfer(call),
{%- endif %}
{%- if options.call_recording %}
        Recording(call),
{%- endif %}
{%- if options.dtmf_input %}
        KeypadInput(),
{%- endif %}
{%- if options.outbound_calls %}
        CalleeSpeaksFirst(call),
        AnsweringMachine(call),
{%- endif %}
{%- if agent.noise_filter %}
        NoiseFilter(call),
{%- endif %}
        # Last, so that it holds what the others pass on until Twilio confirms the call is real.
        ConfirmedCall(call),
    ]


async def bot(runner_args: WebSocketRunnerArguments, process: AgentProcess = PROCESS) -> None:
    try:
        call = await accept_twilio_call(runner_args.websocket)
    except TwilioStreamError as error:
        # Closed already, and no call to hang up: one line, rather than the runner's traceback.
        logger.warning(f"Stream refused: {error}")
        return
    logger.info(f"Call {call.call_sid} started (parameters: {sorted(call.parameters)})")
    features = call_features(call)
    try:
        await converse(call, features, runner_args, process)
    finally:
        # One report per call, however it ended (a failure above is reported as an error).
        for feature in features:
            await feature.on_ended()
    logger.info(f"Call {call.call_sid} ended")


async def converse(
    call: TwilioCall,
    features: list[CallFeature],
    runner_args: WebSocketRunnerArguments,
    process: AgentProcess,
) -> None:
    """The call itself: the greeting, then the pipeline until the call ends."""
    await process.warmed_up()
    greeting = Greeting(process.spoken, OPENING, GREETED)
    for feature in features:
        feature.shape_greeting(greeting)
    # The caller hears the greeting now, while the pipeline is still being built.
    await greeting.play_cached(call)

    services = await process.services_ahead.take()
    worker, context = build_pipeline(
        call, services, features, greeting, process.turn_models, runner_args.pipeline_idle_timeout_secs
    )

    @call.transport.event_handler("on_client_connected")
    async def start_conversation(transport, websocket):
        await greeting.start(context, worker)
        for feature in features:
            await feature.on_connected()

    @call.transport.event_handler("on_client_disconnected")
    async def caller_hung_up(transport, websocket):
        logger.info(f"Call {call.call_sid}: the caller hung up")
        call.ends_as(EndedBy.CALLER)
        await worker.cancel()

    # call_ended() cancels what the call left running, rather than pipecat's runner warning of it.
    runner = WorkerRunner(handle_sigint=runner_args.handle_sigint, check_dangling_tasks=False)
    await runner.add_workers(worker)
    try:
        await runner.run()
    finally:
        await process.call_ended(services, runner.task_manager)


if __name__ == "__main__":
    from startup import dev_runner

    dev_runner.serve(PROCESS)
