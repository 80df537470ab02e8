"""The bot's first words on a call, heard at once.

The opening (phrases.OPENING) is synthesized once per process, with the agent's own text-to-speech,
and kept as 8 kHz audio: at warm-up (Pipecat Cloud asks readyz() before it routes calls here;
locally bot.py starts it once it listens), or else from the first call that speaks it live. A call
then sends the cached audio straight to Twilio before its pipeline has even started. Barge-in still
works: when the caller talks over it, the pipeline's `clear` empties Twilio's playback buffer.
"""

import asyncio
import time
from collections.abc import Callable

from loguru import logger
from pipecat.audio.utils import create_file_resampler
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InterruptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStoppedFrame,
)
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.tts_service import TTSService

from phone.stream import TWILIO_SAMPLE_RATE, TwilioCall, send_audio_now
from startup.run_once import run_once
from voice.call_timer import CallTimer
from voice.services import close_sdk_clients

SYNTHESIS_TIMEOUT_SECS = 15


def spoken_text(phrases: list[str]) -> str:
    """The phrases of an opening as the text-to-speech says them: one utterance."""
    return " ".join(phrases)


class SpokenOnce:
    """The audio of each opening this process has spoken: 16-bit mono PCM at TWILIO_SAMPLE_RATE, by text."""

    def __init__(self) -> None:
        self._audio: dict[str, bytes] = {}

    def audio(self, phrases: list[str]) -> bytes | None:
        return self._audio.get(spoken_text(phrases))

    async def keep(self, phrases: list[str], pcm: bytes, sample_rate: int) -> None:
        text = spoken_text(phrases)
        if text in self._audio:
            return
        self._audio[text] = await create_file_resampler().resample(pcm, sample_rate, TWILIO_SAMPLE_RATE)
        seconds = len(self._audio[text]) / (2 * TWILIO_SAMPLE_RATE)
        logger.info(f"Greeting cached: {seconds:.1f} s of audio, played at once from now on")

    async def synthesize(self, phrases: list[str], create_tts: Callable[[], TTSService]) -> bool:
        """Speaks `phrases` into the cache with a pipeline of its own; False when that failed."""
        tts = None
        try:
            tts = create_tts()
            await run_once(
                [tts, Capture(self, phrases)],
                [TTSSpeakFrame(spoken_text(phrases), append_to_context=False)],
                SYNTHESIS_TIMEOUT_SECS,
                PipelineParams(audio_out_sample_rate=TWILIO_SAMPLE_RATE),
            )
            problem = "" if self.audio(phrases) else "no audio came back"
        except Exception as error:  # a missing key or a provider failure: calls speak it live
            problem = f"{type(error).__name__}: {error}"
        if tts:
            await close_sdk_clients(tts)
        if problem:
            logger.warning(f"Greeting not synthesized at warm-up ({problem}): calls speak it live for now")
        return not problem


class Capture(FrameProcessor):
    """Keeps the first complete live rendition of an opening; an interrupted one is dropped."""

    def __init__(self, spoken: SpokenOnce, phrases: list[str]) -> None:
        super().__init__()
        self._spoken = spoken
        self._phrases = phrases
        self._pcm = bytearray()
        self._sample_rate = TWILIO_SAMPLE_RATE
        self._capturing = True

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if self._capturing:
            if isinstance(frame, TTSAudioRawFrame):
                self._pcm += frame.audio
                self._sample_rate = frame.sample_rate
            elif isinstance(frame, InterruptionFrame):
                self._capturing = False
            elif isinstance(frame, TTSStoppedFrame) and self._pcm:
                self._capturing = False
                await self._spoken.keep(self._phrases, bytes(self._pcm), self._sample_rate)
        await self.push_frame(frame, direction)


class OpeningEnd(CallTimer):
    """Says when an opening the pipeline did not speak has played (the cached one, or none, on a call where
    the callee speaks first), as the output transport does for what it speaks itself.

    Its BotStoppedSpeakingFrame, sent upstream, is what starts pipecat's user-idle timer after the opening.
    Talking over the opening interrupts it, and once the bot speaks live the transport says so itself.
    """

    STOPPED_BY = (InterruptionFrame, BotStartedSpeakingFrame, *CallTimer.STOPPED_BY)

    def __init__(self, playing_until: float) -> None:
        super().__init__()
        self._playing_until = playing_until

    async def when_due(self) -> None:
        await asyncio.sleep(max(0.0, self._playing_until - time.monotonic()))
        await self.push_frame(BotStoppedSpeakingFrame(), FrameDirection.UPSTREAM)


class Greeting:
    """One call's opening: played from the cache at once, or else spoken live by the pipeline."""

    def __init__(self, spoken: SpokenOnce, phrases: list[str], instruction: str) -> None:
        self.spoken = spoken
        self.phrases = phrases
        # What the LLM is told when the call starts (call_control features may change both).
        self.instruction = instruction
        # False: the opening waits in the pipeline with the bot's other speech (an answering-machine check).
        self.may_play_ahead = True
        self.played_from_cache = False  # True once the caller is hearing it, sent ahead of the pipeline
        self.playing_until = 0.0  # when the caller has heard all of it (time.monotonic())

    async def play_cached(self, call: TwilioCall) -> None:
        """Sends the cached opening to Twilio now, ahead of the pipeline, when there is one."""
        audio = self.spoken.audio(self.phrases) if self.phrases and self.may_play_ahead else None
        if audio:
            await send_audio_now(call, audio)
            self.played_from_cache = True
            self.playing_until = time.monotonic() + len(audio) / (2 * TWILIO_SAMPLE_RATE)

    def processors(self) -> list[FrameProcessor]:
        """Placed after the TTS: until the opening is cached, the first one spoken live is kept; once it
        is, or when there is none, the pipeline learns when the caller has heard it."""
        if self.played_from_cache:
            return [OpeningEnd(self.playing_until)]
        return [Capture(self.spoken, self.phrases)] if self.phrases else [OpeningEnd(time.monotonic())]

    async def start(self, context: LLMContext, worker: PipelineWorker) -> None:
        """The LLM learns what the caller heard; an opening not played from the cache is spoken now."""
        context.add_message({"role": "developer", "content": self.instruction})
        if self.played_from_cache:
            context.add_message({"role": "assistant", "content": spoken_text(self.phrases)})
        elif self.phrases:
            # The assistant aggregator adds it to the context once spoken.
            await worker.queue_frames([TTSSpeakFrame(spoken_text(self.phrases))])
