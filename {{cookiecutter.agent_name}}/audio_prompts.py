"""Bundled audio prompts the bot plays through the pipeline, as it plays its own speech.

Twilio's <Play> would end the media stream, so prompts travel as audio frames instead. Each file in
audio/ is 8 kHz 16-bit mono WAV; add your own (e.g. a disclaimer) next to them.
"""

import wave
from functools import cache
from pathlib import Path

from pipecat.frames.frames import OutputAudioRawFrame

AUDIO_DIR = Path(__file__).parent / "audio"


@cache
def _read(name: str) -> tuple[bytes, int, int]:
    with wave.open(str(AUDIO_DIR / f"{name}.wav")) as prompt:
        return prompt.readframes(prompt.getnframes()), prompt.getframerate(), prompt.getnchannels()


def audio_prompt(name: str) -> OutputAudioRawFrame:
    """A new frame holding audio/<name>.wav; the file is read once per process."""
    audio, sample_rate, channels = _read(name)
    return OutputAudioRawFrame(audio=audio, sample_rate=sample_rate, num_channels=channels)
