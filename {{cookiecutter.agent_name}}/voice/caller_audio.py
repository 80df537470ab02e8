"""Ends the caller's raw audio where its last reader is.

The speech-to-text service and the user aggregator (voice activity and turn detection) are the only
processors that read the caller's audio. pipecat passes every frame on, so without this each 20 ms
frame would also cross the reply guard, LLM, TTS, output transport and assistant aggregator, each
a queue and a task switch. Measured with 10 calls listening, that was a quarter of the bot's CPU. A
processor added later that reads the caller's audio (an AudioBufferProcessor that saves the call's
audio, say) belongs before this one.
"""

from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor


class CallerAudioEnd(FrameProcessor):
    """Passes every frame on except the caller's audio."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, InputAudioRawFrame):
            await self.push_frame(frame, direction)
