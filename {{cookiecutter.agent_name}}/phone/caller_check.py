"""Confirms with Twilio's REST API that a stream belongs to a call of this account that is in progress.

On Pipecat Cloud the stream takes no credentials (`websocket_auth = "none"`, which a static TwiML Bin
needs), so anyone who knows the agent's name can open one and invent a CallSid. Twilio is asked as the
call starts, while the caller hears the cached greeting. Until it answers, the gate holds everything
on its way to the LLM and the text-to-speech; a call it denies is closed at once, with no provider
request, no tool call and no hang-up. When Twilio cannot answer (an outage), UNCONFIRMED_CALLS
decides: accept (the default: real callers stay on the line) or refuse.
"""

import asyncio
import re

from loguru import logger
from pipecat.frames.frames import Frame, SystemFrame
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

import settings
from call_control.feature import CallFeature
from phone.rest import TwilioRequestError, twilio_api, with_timeout
from phone.stream import EndedBy, TwilioCall

CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
# Answers that deny the call; any other failure means Twilio could not say.
NOT_THIS_ACCOUNTS = (404,)


class CallDenied(Exception):
    """Twilio says this stream is not a live call of this account."""


async def confirm_call(call_sid: str) -> None:
    """Returns when Twilio confirms the call; raises CallDenied, or TwilioRequestError if it cannot say."""
    if not CALL_SID.fullmatch(call_sid):
        raise CallDenied("the CallSid is not a Twilio CallSid")  # and it never reaches a REST URL
    account_sid, _ = settings.twilio_credentials()
    try:
        async with twilio_api() as client:
            call = await with_timeout(client.calls(call_sid).fetch_async())
    except TwilioRequestError as error:
        if error.status in NOT_THIS_ACCOUNTS:
            raise CallDenied("Twilio has no such call on this account") from None
        raise
    if call.account_sid != account_sid:
        raise CallDenied("the call belongs to another account")
    if call.status != "in-progress":
        raise CallDenied(f"the call is {call.status}, not in progress")


class ConfirmedCall(CallFeature):
    """The gate of one call: listed last among the features, so it holds what they pass on too."""

    def __init__(self, call: TwilioCall) -> None:
        self._call = call
        self._worker: PipelineWorker | None = None
        self._running = False
        # Asked now, so that Twilio answers while the caller hears the greeting.
        self._verdict = asyncio.get_running_loop().create_task(self._decide())
        call.confirmation = self._verdict

    def processors(self) -> list[FrameProcessor]:
        return [HoldUntilConfirmed(self._call)]

    def watch(self, worker: PipelineWorker) -> None:
        self._worker = worker

    async def on_connected(self) -> None:
        self._running = True
        if self._verdict.done() and not self._verdict.result():
            await self._close()

    async def _decide(self) -> bool:
        sid = self._call.call_sid
        try:
            await confirm_call(sid)
            logger.info(f"Call {sid}: confirmed by Twilio")
            return True
        except CallDenied as denial:
            reason = str(denial)
        except TwilioRequestError as error:
            try:
                policy = settings.UNCONFIRMED_CALLS.value()
            except settings.MissingSetting as bad_policy:
                policy = f"unreadable: {bad_policy}"
            if policy == "accept":
                logger.warning(f"Call {sid}: not confirmed ({error}); accepted, as UNCONFIRMED_CALLS=accept")
                return True
            reason = f"not confirmed ({error}), and UNCONFIRMED_CALLS is {policy}"
        logger.warning(f"Call {sid}: refused: {reason}")
        self._call.ends_as(EndedBy.REFUSED)
        # Not ours to end: whatever the CallSid names, no hang-up is sent for it.
        self._call.serializer.keep_call_alive()
        if self._running:
            await self._close()
        return False

    async def _close(self) -> None:
        await self._worker.cancel()


class HoldUntilConfirmed(FrameProcessor):
    """Holds transcripts and spoken text until Twilio confirms the call; drops them if it is refused.

    System frames (the caller's audio, interruptions, cancellation) pass: they cost nothing, and a
    frame held here keeps the frames behind it waiting in order.
    """

    def __init__(self, call: TwilioCall) -> None:
        super().__init__()
        self._call = call

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == FrameDirection.DOWNSTREAM and not isinstance(frame, SystemFrame):
            if not await self._call.confirmed():
                return
        await self.push_frame(frame, direction)
