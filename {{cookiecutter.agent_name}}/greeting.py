"""The bot's first words on a call it answers, heard at once.

The greeting is synthesized once per process, with the agent's own text-to-speech, and kept as
8 kHz audio: at warm-up (Pipecat Cloud asks readyz() before it routes calls here; locally bot.py
warms up before it serves), or else from the first call that speaks it live. A call then sends
the cached audio straight to Twilio before its pipeline has even started. Barge-in still works:
when the caller talks over it, the pipeline's `clear` empties Twilio's playback buffer.
"""

from collections.abc import Callable

from loguru import logger
from pipecat.audio.utils import create_file_resampler
from pipecat.frames.frames import (
    Frame,
    InterruptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStoppedFrame,
)
from pipecat.pipeline.worker import PipelineParams
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.tts_service import TTSService

from pipeline_once import run_once
from twilio_stream import TWILIO_SAMPLE_RATE, TwilioCall, send_audio_now

GREETING = {{ cookiecutter.greeting | tojson }}
SYNTHESIS_TIMEOUT_SECS = 15


class _Cache:
    audio: bytes | None = None  # 16-bit mono PCM at TWILIO_SAMPLE_RATE


async def _keep(pcm: bytes, sample_rate: int) -> None:
    resampler = create_file_resampler()
    _Cache.audio = await resampler.resample(pcm, sample_rate, TWILIO_SAMPLE_RATE)
    seconds = len(_Cache.audio) / (2 * TWILIO_SAMPLE_RATE)
    logger.info(f"Greeting cached: {seconds:.1f} s of audio, played at once from now on")


def cached_audio() -> bytes | None:
    return _Cache.audio


class GreetingCapture(FrameProcessor):
    """Keeps the first complete live greeting this process speaks; an interrupted one is dropped."""

    def __init__(self) -> None:
        super().__init__()
        self._pcm = bytearray()
        self._sample_rate = TWILIO_SAMPLE_RATE
        self._capturing = _Cache.audio is None

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
                if _Cache.audio is None:
                    await _keep(bytes(self._pcm), self._sample_rate)
        await self.push_frame(frame, direction)


async def synthesize(create_tts: Callable[[], TTSService]) -> bool:
    """Speaks the greeting into the cache with a pipeline of its own; False when that failed."""
    try:
        await run_once(
            [create_tts(), GreetingCapture()],
            [TTSSpeakFrame(GREETING, append_to_context=False)],
            SYNTHESIS_TIMEOUT_SECS,
            PipelineParams(audio_out_sample_rate=TWILIO_SAMPLE_RATE),
        )
        problem = "" if _Cache.audio else "no audio came back"
    except Exception as error:  # a missing key or a provider failure: calls speak it live
        problem = f"{type(error).__name__}: {error}"
    if problem:
        logger.warning(f"Greeting not synthesized at warm-up ({problem}): calls speak it live for now")
    return not problem


async def send_cached(call: TwilioCall) -> bool:
    """Sends the cached greeting to Twilio now, ahead of the pipeline; False when there is none yet."""
    if _Cache.audio is None:
        return False
    await send_audio_now(call, _Cache.audio)
    return True
