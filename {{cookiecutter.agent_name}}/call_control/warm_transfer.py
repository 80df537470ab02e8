"""transfer_mode=warm: the caller waits with hold music while the person taking the call first hears
the LLM's summary of it, then joins. Twilio's REST API does it all, with no webhook server.

The caller's call moves into a conference, on hold music until someone else enters. The bot then
calls TRANSFER_NUMBER (with Twilio's answering-machine detection), with TwiML that says the summary
and enters the same conference, which starts the conversation. The bot follows both calls until the
conference is under way, then lets go: it never touches a bridged call. The caller is brought back to
the bot (transfer_result=unanswered), told that nobody could take the call, when that phone is busy,
fails, rings TRANSFER_RING_SECS unanswered (the bot stops it), is answered by a machine (the bot hangs
it up), or hangs up before joining. A caller who hangs up on hold takes the colleague's call with them.
When the colleague hangs up after the conversation, the caller is back with the bot.
"""

import asyncio
import time
from xml.etree import ElementTree

from loguru import logger
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.llm_service import FunctionCallParams

import settings
from call_control.feature import spoken_turns
from call_control.transfer import NOT_TAKEN, Transfer, back_to_agent, redirect_call
from phone.rest import TwilioRequestError, twilio_api, with_timeout
from phone.stream import CONFERENCE_ENDED, UNANSWERED, TwilioCall
from phone.twiml import document
from phrases import HANDOVER_INTRO, HANDOVER_NO_SUMMARY, HANDOVER_SUMMARY_INSTRUCTION

# Twilio's own default hold music for a conference's waitUrl.
HOLD_MUSIC_URL = "http://twimlets.com/holdmusic?Bucket=com.twilio.music.classical"
POLL_SECS = 1.0
# Twilio ends an unanswered call itself about TRANSFER_RING_SECS after it starts ringing; the bot stops
# waiting this much later.
RING_MARGIN_SECS = 10.0
# How long an answered colleague may take to hear the summary and join the conference.
JOIN_SECS = 30.0
SUMMARY_TIMEOUT_SECS = 5.0
MAX_SUMMARY_CHARS = 600
ENDED = {"completed", "busy", "failed", "no-answer", "canceled"}
JOINED, CALLER_GONE = "joined", "the caller hung up on hold"


def conference(parent: ElementTree.Element, name: str, **attributes: str) -> None:
    dial = ElementTree.SubElement(parent, "Dial")
    ElementTree.SubElement(dial, "Conference", {"beep": "false", **attributes}).text = name


def hold_twiml(call: TwilioCall, conference_name: str) -> str:
    """The caller's call: hold music until the colleague enters; when the conference ends, back to the bot."""
    response = ElementTree.Element("Response")
    conference(
        response,
        conference_name,
        waitUrl=HOLD_MUSIC_URL,
        startConferenceOnEnter="false",
        endConferenceOnExit="true",
    )
    back_to_agent(response, call, CONFERENCE_ENDED)
    return document(response)


def colleague_twiml(summary: str, conference_name: str) -> str:
    """The colleague's call: the summary first, then the conversation with the caller."""
    response = ElementTree.Element("Response")
    ElementTree.SubElement(response, "Say").text = f"{HANDOVER_INTRO} {summary}"
    conference(response, conference_name, startConferenceOnEnter="true", endConferenceOnExit="true")
    return document(response)


def unanswered_twiml(call: TwilioCall) -> str:
    response = ElementTree.Element("Response")
    back_to_agent(response, call, UNANSWERED)
    return document(response)


class WarmTransfer(Transfer):
    _on_hold: asyncio.Future | None = None
    _handover: asyncio.Task | None = None

    @property
    def conference_name(self) -> str:
        return f"transfer-{self._call.call_sid}"

    async def summary(self, params: FunctionCallParams) -> str:
        """The LLM's summary of the call so far, out of the pipeline; a failure is one warning line."""
        call_so_far = "\n".join(f"{role}: {text}" for role, text in spoken_turns(params.context))
        context = LLMContext([{"role": "user", "content": call_so_far or "(nothing yet)"}])
        try:
            async with asyncio.timeout(SUMMARY_TIMEOUT_SECS):
                summary = await params.llm.run_inference(
                    context, system_instruction=HANDOVER_SUMMARY_INSTRUCTION
                )
        except Exception as error:  # any provider failure: the colleague still gets the caller
            logger.warning(
                f"Call {self._call.call_sid}: no summary for the transfer ({type(error).__name__})"
            )
            summary = None
        return (summary or HANDOVER_NO_SUMMARY).strip()[:MAX_SUMMARY_CHARS]

    async def move_call(self, number: str, summary: str) -> None:
        loop = asyncio.get_running_loop()
        self._on_hold = loop.create_future()
        # Its own task: Twilio closes this stream as it moves the call, which cancels the tool, and
        # the caller must not wait on hold music for a handover that never comes. bot() waits for it.
        self._handover = loop.create_task(self._transfer(number, summary))
        await asyncio.shield(self._on_hold)  # a failed redirect raises here: the call goes on

    async def on_ended(self) -> None:
        if self._handover:
            await asyncio.shield(self._handover)

    async def _transfer(self, number: str, summary: str) -> None:
        try:
            await redirect_call(self._call.call_sid, hold_twiml(self._call, self.conference_name))
        except TwilioRequestError as error:
            self._on_hold.set_exception(error)
            self._on_hold.exception()  # read here too, in case the tool was cancelled meanwhile
            return
        self._on_hold.set_result(None)
        try:
            await self._hand_over(number, summary)
        except Exception as error:  # a bug of ours must not leave the caller on hold music
            logger.error(
                f"Call {self._call.call_sid}: the warm transfer failed ({type(error).__name__}: {error})"
            )
            await self._bring_back()

    async def _hand_over(self, number: str, summary: str) -> None:
        sid = self._call.call_sid
        ring_secs = settings.TRANSFER_RING_SECS.seconds()
        try:
            async with twilio_api() as client:
                leg = await with_timeout(
                    client.calls.create_async(
                        to=number,
                        from_=self.caller_id,
                        twiml=colleague_twiml(summary, self.conference_name),
                        timeout=int(ring_secs),
                        machine_detection="Enable",
                    )
                )
        except TwilioRequestError as error:
            logger.warning(f"Call {sid}: the warm transfer to {number} could not ring ({error})")
            await self._bring_back()
            return
        outcome = await self._follow(leg.sid, ring_secs)
        logger.info(f"Call {sid}: the warm transfer to {number}: {outcome}")
        if outcome == JOINED:
            return
        if outcome == CALLER_GONE:
            await self._end_leg(leg.sid)
            return
        await self._end_leg(leg.sid)
        await self._bring_back()

    async def _follow(self, leg_sid: str, ring_secs: float) -> str:
        """Polls the caller's call, the colleague's, and the conference until one of them decides."""
        deadline = time.monotonic() + ring_secs + RING_MARGIN_SECS
        while time.monotonic() < deadline:
            try:
                async with twilio_api() as client:
                    caller = await with_timeout(client.calls(self._call.call_sid).fetch_async())
                    leg = await with_timeout(client.calls(leg_sid).fetch_async())
                    started = await with_timeout(
                        client.conferences.list_async(
                            friendly_name=self.conference_name, status="in-progress", limit=1
                        )
                    )
            except TwilioRequestError as error:
                logger.warning(f"Call {self._call.call_sid}: the transfer's status is unknown ({error})")
                await asyncio.sleep(POLL_SECS)
                continue
            if caller.status in ENDED:
                return CALLER_GONE
            if started:
                return JOINED
            if (leg.answered_by or "").startswith(("machine", "fax")):
                return f"a machine answered ({leg.answered_by})"
            if leg.status in NOT_TAKEN or leg.status == "completed":
                return f"not taken ({leg.status})"
            if leg.status == "in-progress":
                # Answered: the summary plays, then the colleague joins; allow for the summary too.
                deadline = max(deadline, time.monotonic() + JOIN_SECS)
            await asyncio.sleep(POLL_SECS)
        return "no answer in time"

    async def _end_leg(self, leg_sid: str) -> None:
        """Stops the colleague's call: canceled if it still rings, hung up if it was answered."""
        try:
            async with twilio_api() as client:
                leg = await with_timeout(client.calls(leg_sid).update_async(status="canceled"))
                if leg.status == "in-progress":
                    await with_timeout(client.calls(leg_sid).update_async(status="completed"))
        except TwilioRequestError as error:
            logger.warning(f"Call {self._call.call_sid}: the transfer's call could not be stopped ({error})")

    async def _bring_back(self) -> None:
        try:
            await redirect_call(self._call.call_sid, unanswered_twiml(self._call))
        except TwilioRequestError as error:
            # Still on hold music, until the caller hangs up (which ends the conference).
            logger.error(f"Call {self._call.call_sid}: the caller could not be brought back ({error})")
