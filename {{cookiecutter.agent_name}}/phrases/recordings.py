"""Recorded prompts, played through the pipeline as the bot plays its own speech.

Twilio's <Play> would end the media stream, so a recording travels as audio frames instead. Each
recording here is 8 kHz 16-bit mono WAV, named after its phrase (technical_trouble.wav says
TECHNICAL_TROUBLE).
"""

import wave
from functools import cache
from pathlib import Path

from pipecat.frames.frames import OutputAudioRawFrame

RECORDINGS_DIR = Path(__file__).parent


@cache
def _read(name: str) -> tuple[bytes, int, int]:
    with wave.open(str(RECORDINGS_DIR / f"{name}.wav")) as wav:
        return wav.readframes(wav.getnframes()), wav.getframerate(), wav.getnchannels()


def recording(name: str) -> OutputAudioRawFrame:
    """A new frame holding <name>.wav; the file is read once per process."""
    audio, sample_rate, channels = _read(name)
    return OutputAudioRawFrame(audio=audio, sample_rate=sample_rate, num_channels=channels)
