"""Audio helpers the fakes share: a tone that stands in for speech, and a speech detector."""

import array
import math

SPEECH_RMS = 500


def tone(seconds: float, sample_rate: int, frequency: float = 440.0) -> bytes:
    """A quiet sine tone standing in for a synthesized voice: audible, and cheap to make."""
    step = 2 * math.pi * frequency / sample_rate
    samples = array.array("h", (int(6000 * math.sin(step * i)) for i in range(int(seconds * sample_rate))))
    return samples.tobytes()


def has_speech(pcm16: bytes) -> bool:
    """True when 16-bit PCM is loud enough to be a voice rather than line silence."""
    samples = array.array("h", pcm16[: len(pcm16) // 2 * 2])
    if not samples:
        return False
    return math.sqrt(sum(s * s for s in samples) / len(samples)) > SPEECH_RMS
