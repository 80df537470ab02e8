"""The longest a call lasts (MAX_CALL_SECS): shortly before it the bot tells the caller, and at the limit it
says goodbye and ends the call, with one REST hang-up as for end_call. pcc-deploy.toml gives the session a
margin beyond it, so Pipecat Cloud never cuts the call first."""

import asyncio

from loguru import logger
from pipecat.frames.frames import TTSSpeakFrame
from pipecat.processors.frame_processor import FrameProcessor

import settings
from call_control.feature import CallFeature, say_goodbye
from phone.stream import EndedBy, TwilioCall
from phrases import TIME_LIMIT_GOODBYE, TIME_LIMIT_NOTICE
from voice.call_timer import CallTimer

# The notice comes this long before the limit, or a quarter of the call before it on a shorter one.
NOTICE_BEFORE_LIMIT_SECS = 30.0


class CallClock(CallTimer):
    """Counts from the call's start: the notice, then the goodbye and the end at the limit."""

    def __init__(self, call: TwilioCall, limit_secs: float) -> None:
        super().__init__()
        self._call = call
        self.limit = limit_secs

    async def when_due(self) -> None:
        notice_before = min(NOTICE_BEFORE_LIMIT_SECS, self.limit / 4)
        await asyncio.sleep(self.limit - notice_before)
        logger.info(f"Call {self._call.call_sid}: {notice_before:g} s before the time limit, wrapping up")
        await self.push_frame(TTSSpeakFrame(TIME_LIMIT_NOTICE))
        await asyncio.sleep(notice_before)
        logger.info(f"Call {self._call.call_sid}: {self.limit:g} s, the time limit, ending the call")
        await say_goodbye(self, self._call, TIME_LIMIT_GOODBYE, EndedBy.TIME_LIMIT)


class TimeLimit(CallFeature):
    def __init__(self, call: TwilioCall) -> None:
        self._clock = CallClock(call, settings.MAX_CALL_SECS.seconds())

    def processors(self) -> list[FrameProcessor]:
        # MAX_CALL_SECS=0 turns it off; max_session_duration in pcc-deploy.toml still ends the session.
        return [self._clock] if self._clock.limit > 0 else []
