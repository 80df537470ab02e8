"""Makes sure a caller who is waiting for the bot never hears silence forever.

Once a reply is due, the bot must start speaking within a timeout. If a provider fails (an error,
a hang, a dropped connection), the guard apologizes through the TTS. If even that stays silent, the
TTS itself is down: it plays the bundled technical-trouble prompt and ends the call politely.
"""

import asyncio
import time

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    CancelFrame,
    EndFrame,
    EndWorkerFrame,
    ErrorFrame,
    Frame,
    FunctionCallInProgressFrame,
    LLMContextFrame,
    OutputAudioRawFrame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

import settings
from phrases import APOLOGY
from phrases.recordings import recording

# Nothing more to wait for: the bot talks, the caller talks, a tool runs, or the call ends.
REPLY_UNDER_WAY = (
    BotStartedSpeakingFrame,
    UserStartedSpeakingFrame,
    FunctionCallInProgressFrame,
    EndFrame,
    CancelFrame,
)


class ReplyGuard(FrameProcessor):
    """Sits just before the LLM, where replies are requested and errors from the LLM and TTS pass."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._timeout_secs = settings.REPLY_TIMEOUT_SECS.seconds()
        self._timer: asyncio.Task | None = None
        self._apologized = False
        self._prompts_end_at = 0.0

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame) and direction == FrameDirection.DOWNSTREAM:
            await self._arm()
        elif isinstance(frame, OutputAudioRawFrame) and direction == FrameDirection.DOWNSTREAM:
            # A bundled prompt on its way out: nobody waits for a reply while it plays.
            seconds = len(frame.audio) / (2 * frame.num_channels * frame.sample_rate)
            self._prompts_end_at = max(self._prompts_end_at, time.monotonic()) + seconds
        elif isinstance(frame, REPLY_UNDER_WAY):
            await self._disarm()
            if isinstance(frame, BotStartedSpeakingFrame):
                self._apologized = False
        elif isinstance(frame, ErrorFrame) and self._timer:
            logger.warning(f"A provider failed while the caller waited for a reply: {frame.error}")
            await self._disarm()
            await self._recover()
        await self.push_frame(frame, direction)

    async def cleanup(self):
        await self._disarm()
        await super().cleanup()

    async def _arm(self) -> None:
        await self._disarm()
        self._timer = self.create_task(self._wait_for_speech())

    async def _disarm(self) -> None:
        if self._timer:
            timer, self._timer = self._timer, None
            if timer is not asyncio.current_task():
                await self.cancel_task(timer)

    async def _wait_for_speech(self) -> None:
        await asyncio.sleep(self._timeout_secs + max(0.0, self._prompts_end_at - time.monotonic()))
        self._timer = None
        logger.warning(f"No reply audio {self._timeout_secs}s after the caller finished")
        await self._recover()

    async def _recover(self) -> None:
        # Cancel whatever is stuck (a hung LLM request, a half-spoken reply) before speaking.
        await self.broadcast_interruption()
        if not self._apologized:
            self._apologized = True
            await self.push_frame(TTSSpeakFrame(APOLOGY))
            await self._arm()
            return
        logger.error("The TTS is silent too: playing the technical-trouble prompt and ending the call")
        await self.push_frame(recording("technical_trouble"))
        await self.push_frame(EndWorkerFrame(reason="providers unavailable"))
