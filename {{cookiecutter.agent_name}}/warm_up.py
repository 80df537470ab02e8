"""What a call would otherwise wait for, done before calls arrive.

Measured on 2 cores with instant fake providers (bench/ in the template repository): the first
construction of the STT and LLM services costs about 180 ms (imports and one-time set-up inside
their SDKs), the first LLM reply about 80 ms more (the SDK builds its response models on first use),
and the STT's first connection imports its streaming client. Later constructions still take about
40 ms (each SDK client sets up TLS), so the next call's services are built ahead too: at warm-up,
and when the last call in progress ends. Pipecat Cloud runs warm_up() from readyz(); the
development runner runs it before it serves. It costs one short LLM request and one STT connection
per process.
"""

import asyncio
from collections.abc import Callable

from loguru import logger
from pipecat.frames.frames import EndFrame, LLMContextFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService
from pipecat.workers.runner import WorkerRunner

import greeting
from env_settings import MissingSetting

FIRST_REPLY_TIMEOUT_SECS = 15


async def warm_up(
    create_stt: Callable,
    create_llm: Callable[[str], LLMService],
    create_tts: Callable,
    system_prompt: str,
) -> None:
    try:
        stt, llm = create_stt(), create_llm(system_prompt)
    except MissingSetting as error:
        logger.error(f"Not warmed up: {error}")  # and each call stops with the same line until it is set
        return
    prepare_services(create_stt, create_llm, create_tts, system_prompt)
    await asyncio.gather(first_use(stt, llm), greeting.synthesize(create_tts))


class _Prepared:
    services: tuple | None = None
    calls = 0  # calls in progress in this process


def prepare_services(
    create_stt: Callable, create_llm: Callable, create_tts: Callable, system_prompt: str
) -> None:
    """Builds the next call's STT, LLM and TTS now, so that call does not wait for them."""
    try:
        _Prepared.services = (create_stt(), create_llm(system_prompt), create_tts())
    except MissingSetting:
        _Prepared.services = None  # the call itself then stops with the line that names the key


def take_services(
    create_stt: Callable, create_llm: Callable, create_tts: Callable, system_prompt: str
) -> tuple:
    """The services built ahead for this call, else new ones (a missing key raises MissingSetting here)."""
    _Prepared.calls += 1
    services, _Prepared.services = _Prepared.services, None
    if services:
        logger.info("Using the services built before this call")
        return services
    return create_stt(), create_llm(system_prompt), create_tts()


async def first_use(stt: STTService, llm: LLMService) -> None:
    """The STT connects once (no audio) and the LLM answers one short request, so their SDKs' first-use
    set-up is done before a caller waits on it."""
    context = LLMContext([{"role": "user", "content": "Reply with the single word: ready"}])
    worker = PipelineWorker(Pipeline([stt, llm]), idle_timeout_secs=None)
    await worker.queue_frames([LLMContextFrame(context), EndFrame()])
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    try:
        await asyncio.wait_for(runner.run(), FIRST_REPLY_TIMEOUT_SECS)
    except Exception as error:  # a provider problem here shows again, and is handled, in the calls
        logger.warning(f"STT and LLM warm-up failed ({type(error).__name__}: {error})")


def call_ended(create_stt: Callable, create_llm: Callable, create_tts: Callable, system_prompt: str) -> None:
    """Builds the next call's services once no call is left; during calls it would stall their audio."""
    _Prepared.calls -= 1
    if _Prepared.calls == 0:
        prepare_services(create_stt, create_llm, create_tts, system_prompt)
