"""A processor that waits from the call's start, then acts: on the pipeline's own task manager, so that the
wait ends with the call (or sooner, on a frame that makes it moot)."""

import asyncio

from pipecat.frames.frames import CancelFrame, EndFrame, Frame, StartFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor


class CallTimer(FrameProcessor):
    # Frames that stop the wait: the call's end, and whatever a subclass adds.
    STOPPED_BY: tuple[type[Frame], ...] = (EndFrame, CancelFrame)

    def __init__(self) -> None:
        super().__init__()
        self._timer: asyncio.Task | None = None

    async def when_due(self) -> None:
        """Waits, then acts; runs once per call."""
        raise NotImplementedError

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            self._timer = self.create_task(self._run())
        elif isinstance(frame, self.STOPPED_BY):
            await self._stop()
        await self.push_frame(frame, direction)

    async def cleanup(self) -> None:
        await self._stop()
        await super().cleanup()

    async def _run(self) -> None:
        await self.when_due()
        self._timer = None

    async def _stop(self) -> None:
        if self._timer:
            await self.cancel_task(self._timer)
            self._timer = None
