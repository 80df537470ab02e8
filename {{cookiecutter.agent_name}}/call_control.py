"""Controls the live phone call: the LLM's tools{% if cookiecutter.call_recording == "yes" %} and the call recording{% endif %}.

{% if cookiecutter.call_transfer == "yes" or cookiecutter.call_recording == "yes" -%}
Every REST request goes through twilio_calls for this call's CallSid. A failed request never ends
the call: a log line says why{% if cookiecutter.call_transfer == "yes" %}, and for a tool the bot tells the caller and the LLM gets the
reason as the tool's result{% endif %}.
{%- else -%}
Ending a call hangs up through the Twilio serializer's REST request, exactly once.
{%- endif %}
"""
{%- if cookiecutter.call_transfer == "yes" %}

import asyncio
import os
import re
import time
{%- endif %}

from loguru import logger
{%- if cookiecutter.call_transfer == "yes" %}
from pipecat.adapters.llm.schemas.direct_function import tool_options
{%- endif %}
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import (
{%- if cookiecutter.call_transfer == "yes" %}
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
{%- endif %}
    EndWorkerFrame,
    FunctionCallResultProperties,
    TTSSpeakFrame,
)
{%- if cookiecutter.call_transfer == "yes" %}
from pipecat.pipeline.worker import PipelineWorker
{%- endif %}
from pipecat.services.llm_service import FunctionCallParams

{%- if cookiecutter.call_transfer == "yes" or cookiecutter.call_recording == "yes" %}

from twilio_calls import TwilioRequestError{% if cookiecutter.call_transfer == "yes" %}, redirect_call{% endif %}{% if cookiecutter.call_recording == "yes" %}, start_recording{% endif %}
from twilio_stream import TwilioCall
{%- else %}

from twilio_stream import TwilioCall
{%- endif %}
{%- if cookiecutter.call_transfer == "yes" %}
from twiml import dial_twiml
{%- endif %}

GOODBYE = "Thank you for calling. Goodbye!"
{%- if cookiecutter.call_transfer == "yes" %}
TRANSFERRING = "Please hold while I transfer you to a colleague."
TRANSFER_FAILED = "I'm sorry, I couldn't transfer you right now. Can I help you with anything else?"
# Set at generation; the TRANSFER_NUMBER variable overrides it without a rebuild.
DEFAULT_TRANSFER_NUMBER = "{{ cookiecutter.transfer_number }}"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
# The bot counts as done talking once it has been quiet this long: the TTS may pause between
# the LLM's last sentence and the hold message.
QUIET_SECS = 0.8
HOLD_MESSAGE_TIMEOUT_SECS = 15
{%- endif %}
NO_LLM_RUN = FunctionCallResultProperties(run_llm=False)
{%- if cookiecutter.call_transfer == "yes" %}


def uninterruptible_speech(text: str) -> TTSSpeakFrame:
    """Words the caller must hear in full, even if they talk or press a key meanwhile."""
    frame = TTSSpeakFrame(text)
    frame.interruptible = False
    return frame
{%- endif %}


class CallControl:
    """The tools and REST requests of one call."""

    def __init__(self, call: TwilioCall) -> None:
        self._call = call
{%- if cookiecutter.call_transfer == "yes" %}
        self._bot_speaking = False
        self._bot_stopped_at = 0.0
{%- endif %}

    def tools(self) -> ToolsSchema:
        end_call = FunctionSchema(
            name="end_call",
            description="End the phone call. Use it when the caller says goodbye or has nothing more to ask.",
            properties={},
            required=[],
            handler=self.end_call,
        )
{%- if cookiecutter.call_transfer == "yes" %}
        transfer_call = FunctionSchema(
            name="transfer_call",
            description="Transfer the caller to a human, when they ask for one or you cannot help them.",
            properties={},
            required=[],
            handler=self.transfer_call,
        )
        return ToolsSchema(standard_tools=[end_call, transfer_call])
{%- else %}
        return ToolsSchema(standard_tools=[end_call])
{%- endif %}

{%- if cookiecutter.call_transfer == "yes" %}

    def watch(self, worker: PipelineWorker) -> None:
        """Follows when the bot speaks, so a transfer can wait until the caller heard the hold message."""
        worker.add_reached_downstream_filter((BotStartedSpeakingFrame, BotStoppedSpeakingFrame))

        @worker.event_handler("on_frame_reached_downstream")
        async def bot_speech_changed(worker, frame):
            self._bot_speaking = isinstance(frame, BotStartedSpeakingFrame)
            if not self._bot_speaking:
                self._bot_stopped_at = time.monotonic()

    async def _wait_until_spoken(self, since: float) -> None:
        deadline = since + HOLD_MESSAGE_TIMEOUT_SECS
        while time.monotonic() < deadline:
            stopped = not self._bot_speaking and self._bot_stopped_at > since
            if stopped and time.monotonic() - self._bot_stopped_at >= QUIET_SECS:
                return
            await asyncio.sleep(0.05)
        logger.warning(f"Call {self._call.call_sid}: transferring before the hold message finished")
{%- endif %}

    async def end_call(self, params: FunctionCallParams) -> None:
        """Says goodbye, then ends the pipeline; the Twilio serializer then hangs up through REST, once."""
        logger.info(f"Call {self._call.call_sid}: the LLM ended the call")
        await params.result_callback({"status": "ending the call"}, properties=NO_LLM_RUN)
        await params.llm.push_frame(TTSSpeakFrame(GOODBYE))
        # Pushed downstream behind the goodbye, so the caller hears it before the line closes.
        await params.llm.push_frame(EndWorkerFrame(reason="end_call tool"))
{%- if cookiecutter.call_transfer == "yes" %}

    # The caller may talk over the hold message, or press a key: neither may cancel the transfer.
    @tool_options(cancel_on_interruption=False)
    async def transfer_call(self, params: FunctionCallParams) -> None:
        number = os.getenv("TRANSFER_NUMBER", "").strip() or DEFAULT_TRANSFER_NUMBER
        asked_at = time.monotonic()
        await params.llm.push_frame(uninterruptible_speech(TRANSFERRING))
        await self._wait_until_spoken(since=asked_at)
        try:
            if not E164.match(number):
                raise TwilioRequestError(f"{number!r} is not an E.164 number (check TRANSFER_NUMBER)")
            await redirect_call(self._call.call_sid, dial_twiml(number, caller_id=self._call.twilio_number))
        except TwilioRequestError as error:
            logger.warning(f"Call {self._call.call_sid}: transfer to {number} failed: {error}")
            await params.result_callback({"transferred": False, "error": str(error)}, properties=NO_LLM_RUN)
            await params.llm.push_frame(uninterruptible_speech(TRANSFER_FAILED))
            return
        logger.info(f"Call {self._call.call_sid}: transferred to {number}")
        # Twilio now runs the <Dial>: ending the pipeline must not hang the transferred caller up.
        self._call.serializer.keep_call_alive()
        await params.result_callback({"transferred": True}, properties=NO_LLM_RUN)
        await params.llm.push_frame(EndWorkerFrame(reason="transferred"))
{%- endif %}
{%- if cookiecutter.call_recording == "yes" %}

    async def start_recording(self) -> None:
        """Starts Twilio's dual-channel recording; the call goes on unrecorded if that fails."""
        try:
            recording_sid = await start_recording(self._call.call_sid)
        except TwilioRequestError as error:
            logger.warning(f"Call {self._call.call_sid}: recording did not start: {error}")
            return
        logger.info(f"Call {self._call.call_sid}: recording {recording_sid}")
{%- endif %}
