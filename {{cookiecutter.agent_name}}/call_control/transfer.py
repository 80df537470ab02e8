"""The transfer_call tool: the live call is redirected to a <Dial>, and never hung up after it.

The number is TRANSFER_NUMBER, whatever the caller says: the tool takes no argument, so the LLM never
supplies one. A failed request never ends the call: a log line says why, the bot tells the caller, and
the LLM gets the reason as the tool's result.

Nobody strands the caller: TwiML goes on after a <Dial> ends, whether the line was busy, nobody
answered within TRANSFER_RING_SECS, the number failed, or the colleague hung up. Then Twilio says one sentence
and streams the call to this agent again, with transfer_result=returned; the bot asks Twilio how the
dialed leg ended and tells the caller.
"""

import asyncio
import time
from xml.etree import ElementTree

from loguru import logger
from pipecat.adapters.llm.schemas.direct_function import tool_options
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndWorkerFrame,
    TTSSpeakFrame,
)
from pipecat.pipeline.worker import PipelineWorker
from pipecat.services.llm_service import FunctionCallParams

import settings
from call_control.feature import NO_LLM_RUN, CallFeature, tool
from phone.numbers import is_phone_number
from phone.rest import TwilioRequestError, twilio_api, with_timeout
from phone.stream import RETURNED, TRANSFER_RESULT, UNANSWERED, EndedBy, TwilioCall
from phone.twiml import connect_to_agent, document, self_hosted_stream_url
from phrases import (
    BACK_FROM_TRANSFER,
    BACK_FROM_TRANSFER_INSTRUCTION,
    RETURNING_FROM_TRANSFER,
    TRANSFER_FAILED,
    TRANSFER_UNANSWERED,
    TRANSFERRING,
)
from voice.greeting import Greeting

# The bot counts as done talking once it has been quiet this long: the TTS may pause between
# the LLM's last sentence and the hold message.
QUIET_SECS = 0.8
HOLD_MESSAGE_TIMEOUT_SECS = 15
# How a dialed leg that nobody took ends, in Twilio's words (Call.status).
NOT_TAKEN = {"busy", "no-answer", "failed", "canceled"}


def uninterruptible_speech(text: str) -> TTSSpeakFrame:
    """Words the caller must hear in full, even if they talk or press a key meanwhile."""
    frame = TTSSpeakFrame(text)
    frame.interruptible = False
    return frame


def dial_twiml(number: str, caller_id: str | None, call: TwilioCall) -> str:
    """Moves the live call to `number`, then, once that leg ends, back to this agent on a new stream.

    The caller ID must be a number Twilio lets this account use.
    """
    response = ElementTree.Element("Response")
    ring_secs = str(int(settings.TRANSFER_RING_SECS.seconds()))  # whole seconds, as <Dial> takes them
    dial = {"timeout": ring_secs, **({"callerId": caller_id} if caller_id else {})}
    ElementTree.SubElement(response, "Dial", dial).text = number
    back_to_agent(response, call, RETURNED)
    return document(response)


def back_to_agent(response: ElementTree.Element, call: TwilioCall, result: str) -> None:
    """Adds the verbs that return the caller to this agent: one sentence, then a new stream."""
    ElementTree.SubElement(response, "Say").text = RETURNING_FROM_TRANSFER
    # The call's own parameters again (not Pipecat Cloud's routing, which connect_to_agent adds).
    parameters = {name: value for name, value in call.parameters.items() if not name.startswith("_")}
    public_url = settings.PUBLIC_URL.value()
    stream_url = self_hosted_stream_url(public_url) if public_url else None
    connect_to_agent(response, {**parameters, TRANSFER_RESULT: result}, stream_url)


async def dialed_leg_status(call_sid: str) -> str | None:
    """How the call's latest <Dial> leg ended (busy, no-answer, completed, ...); None if Twilio cannot say."""
    try:
        async with twilio_api() as client:
            legs = await with_timeout(client.calls.list_async(parent_call_sid=call_sid, limit=1))
    except TwilioRequestError as error:
        logger.warning(f"Call {call_sid}: how the transfer ended is unknown ({error})")
        return None
    return legs[0].status if legs else None


async def redirect_call(call_sid: str, twiml: str) -> None:
    """Replaces the live call's TwiML: Twilio ends the media stream and follows the new instructions."""
    async with twilio_api() as client:
        await with_timeout(client.calls(call_sid).update_async(twiml=twiml))


class Transfer(CallFeature):
    def __init__(self, call: TwilioCall) -> None:
        self._call = call
        self._bot_speaking = False
        self._bot_stopped_at = 0.0
        self._worker: PipelineWorker | None = None

    def shape_greeting(self, greeting: Greeting) -> None:
        if self._call.is_back_from_transfer:
            # Not the greeting again: on_connected says how the transfer ended.
            greeting.phrases = []
            greeting.instruction = BACK_FROM_TRANSFER_INSTRUCTION

    async def on_connected(self) -> None:
        if self._call.is_back_from_transfer:
            result = self._call.parameters[TRANSFER_RESULT]
            # A <Dial>'s outcome is Twilio's to tell; a warm transfer's, the bot's own.
            status = await dialed_leg_status(self._call.call_sid) if result == RETURNED else result
            logger.info(f"Call {self._call.call_sid}: back from the transfer ({status})")
            said = TRANSFER_UNANSWERED if status in (*NOT_TAKEN, UNANSWERED) else BACK_FROM_TRANSFER
            await self._worker.queue_frame(TTSSpeakFrame(said))

    def tools(self) -> list[FunctionSchema]:
        description = "Transfer the caller to a human, when they ask for one or you cannot help them."
        return [tool("transfer_call", description, self.transfer_call)]

    def watch(self, worker: PipelineWorker) -> None:
        """Follows when the bot speaks, so a transfer can wait until the caller heard the hold message."""
        self._worker = worker
        worker.add_reached_downstream_filter((BotStartedSpeakingFrame, BotStoppedSpeakingFrame))

        # Other features watch other frames through the same event.
        @worker.event_handler("on_frame_reached_downstream")
        async def bot_speech_changed(worker, frame):
            if isinstance(frame, BotStartedSpeakingFrame):
                self._bot_speaking = True
            elif isinstance(frame, BotStoppedSpeakingFrame):
                self._bot_speaking = False
                self._bot_stopped_at = time.monotonic()

    @property
    def caller_id(self) -> str | None:
        """This account's own number on the call (the one called, or calling out): Twilio accepts it."""
        return self._call.from_number if self._call.is_outbound else self._call.to_number

    async def _wait_until_spoken(self, since: float) -> None:
        deadline = since + HOLD_MESSAGE_TIMEOUT_SECS
        while time.monotonic() < deadline:
            stopped = not self._bot_speaking and self._bot_stopped_at > since
            if stopped and time.monotonic() - self._bot_stopped_at >= QUIET_SECS:
                return
            await asyncio.sleep(0.05)
        logger.warning(f"Call {self._call.call_sid}: transferring before the hold message finished")

    async def summary(self, params: FunctionCallParams) -> str:
        """What the person taking the call hears first; a cold transfer tells them nothing."""
        return ""

    async def move_call(self, number: str, summary: str) -> None:
        """Hands the live call to Twilio's <Dial>, with the way back after it; raises TwilioRequestError."""
        twiml = dial_twiml(number, caller_id=self.caller_id, call=self._call)
        await redirect_call(self._call.call_sid, twiml)

    # The caller may talk over the hold message, or press a key: neither may cancel the transfer.
    @tool_options(cancel_on_interruption=False)
    async def transfer_call(self, params: FunctionCallParams) -> None:
        number = settings.TRANSFER_NUMBER.value()
        asked_at = time.monotonic()
        await params.llm.push_frame(uninterruptible_speech(TRANSFERRING))
        # The summary is written while the caller hears the hold message.
        _, summary = await asyncio.gather(self._wait_until_spoken(since=asked_at), self.summary(params))
        try:
            if not is_phone_number(number):
                raise TwilioRequestError(f"{number!r} is not an E.164 number (check TRANSFER_NUMBER)")
            self._call.transferring = True
            await self.move_call(number, summary)
        except TwilioRequestError as error:
            self._call.transferring = False
            if self._call.ended_by == EndedBy.TRANSFER:  # the caller hung up meanwhile
                self._call.ended_by = EndedBy.CALLER
            logger.warning(f"Call {self._call.call_sid}: transfer to {number} failed: {error}")
            await params.result_callback({"transferred": False, "error": str(error)}, properties=NO_LLM_RUN)
            await params.llm.push_frame(uninterruptible_speech(TRANSFER_FAILED))
            return
        logger.info(f"Call {self._call.call_sid}: transferred to {number}")
        self._call.ends_as(EndedBy.TRANSFER)
        # Twilio now runs the <Dial>: ending the pipeline must not hang the transferred caller up.
        self._call.serializer.keep_call_alive()
        await params.result_callback({"transferred": True}, properties=NO_LLM_RUN)
        await params.llm.push_frame(EndWorkerFrame(reason="transferred"))
