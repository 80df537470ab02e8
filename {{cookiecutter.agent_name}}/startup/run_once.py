"""A pipeline run once to its end, outside any call: the warm-up's first requests and the greeting."""

import asyncio

from pipecat.frames.frames import EndFrame, Frame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.workers.runner import WorkerRunner


async def run_once(
    processors: list[FrameProcessor],
    frames: list[Frame],
    timeout_secs: float,
    params: PipelineParams | None = None,
) -> None:
    """Sends `frames` through `processors`, then ends, or is stopped after `timeout_secs`.

    It returns either way (pipecat's runner ends quietly when cancelled, and a provider error becomes
    an ErrorFrame): check for the result itself, as the greeting does with its audio.
    """
    worker = PipelineWorker(
        Pipeline(processors), params=params or PipelineParams(), idle_timeout_secs=None, enable_rtvi=False
    )
    await worker.queue_frames([*frames, EndFrame()])
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await asyncio.wait_for(runner.run(), timeout_secs)
