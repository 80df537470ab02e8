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
{%- endif %}

from loguru import logger
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import (
{%- if cookiecutter.call_transfer == "yes" %}
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
{%- endif %}
NO_LLM_RUN = FunctionCallResultProperties(run_llm=False)


class CallControl:
    """The tools and REST requests of one call."""

    def __init__(self, call: TwilioCall) -> None:
        self._call = call
{%- if cookiecutter.call_transfer == "yes" %}
        self._bot_finished_speaking = asyncio.Event()
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
        """Follows the pipeline: a transfer waits until the caller has heard the bot's last words."""
        worker.add_reached_downstream_filter((BotStoppedSpeakingFrame,))

        @worker.event_handler("on_frame_reached_downstream")
        async def bot_stopped_speaking(worker, frame):
            if isinstance(frame, BotStoppedSpeakingFrame):
                self._bot_finished_speaking.set()
{%- endif %}

    async def end_call(self, params: FunctionCallParams) -> None:
        """Says goodbye, then ends the pipeline; the Twilio serializer then hangs up through REST, once."""
        logger.info(f"Call {self._call.call_sid}: the LLM ended the call")
        await params.result_callback({"status": "ending the call"}, properties=NO_LLM_RUN)
        await params.llm.push_frame(TTSSpeakFrame(GOODBYE))
        # Pushed downstream behind the goodbye, so the caller hears it before the line closes.
        await params.llm.push_frame(EndWorkerFrame(reason="end_call tool"))
{%- if cookiecutter.call_transfer == "yes" %}

    async def transfer_call(self, params: FunctionCallParams) -> None:
        number = os.getenv("TRANSFER_NUMBER", "").strip() or DEFAULT_TRANSFER_NUMBER
        self._bot_finished_speaking.clear()
        await params.llm.push_frame(TTSSpeakFrame(TRANSFERRING))
        try:
            await asyncio.wait_for(self._bot_finished_speaking.wait(), timeout=15)
        except TimeoutError:
            logger.warning(f"Call {self._call.call_sid}: transferring before the hold message finished")
        try:
            await redirect_call(self._call.call_sid, dial_twiml(number, caller_id=self._call.twilio_number))
        except TwilioRequestError as error:
            logger.warning(f"Call {self._call.call_sid}: transfer to {number} failed: {error}")
            await params.result_callback({"transferred": False, "error": str(error)}, properties=NO_LLM_RUN)
            await params.llm.push_frame(TTSSpeakFrame(TRANSFER_FAILED))
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
