"""The caller's audio stops after turn detection; every other frame goes on, in order."""

import asyncio

from pipecat.frames.frames import InputAudioRawFrame, TextFrame, TranscriptionFrame
from pipecat.tests.utils import run_test

from voice.caller_audio import CallerAudioEnd


def test_only_the_callers_audio_stops_here():
    audio = InputAudioRawFrame(audio=bytes(320), sample_rate=8000, num_channels=1)
    heard = TranscriptionFrame("What time do you open tomorrow?", user_id="", timestamp="")
    downstream, _ = asyncio.run(
        run_test(
            CallerAudioEnd(),
            frames_to_send=[audio, heard, audio, TextFrame("Sure."), audio],
            expected_down_frames=[TranscriptionFrame, TextFrame],
        )
    )
    assert downstream[0].text == heard.text
