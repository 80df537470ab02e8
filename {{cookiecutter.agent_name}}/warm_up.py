"""What a call would otherwise wait for, done before calls arrive.

Measured on 2 cores with instant fake providers (bench/ in the template repository): the first
construction of the STT and LLM services costs about 180 ms (imports and one-time set-up inside
their SDKs), the first LLM reply about 80 ms more (the SDK builds its response models on first use),
and the STT's first connection imports its streaming client. Pipecat Cloud runs warm_up() from
readyz(); the development runner runs it before it serves. It costs one short LLM request and one
STT connection per process.

Later constructions still take about 40 ms of CPU (each SDK client loads its TLS certificates). On
the event loop that would be a 40 ms hole in every other call's audio, so each call's services are
built on a worker thread, one call ahead.
"""

import asyncio
import ctypes
import gc
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from loguru import logger
from pipecat.frames.frames import LLMContextFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService

import greeting
from env_settings import MissingSetting
from pipeline_once import run_once

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
    await asyncio.gather(first_use(stt, llm), greeting.synthesize(create_tts))
    del stt, llm  # their pipeline has ended; nothing of it may outlive the warm-up
    # What exists now (imports, models, SDK set-up) lives as long as the process. Frozen, later full
    # collections skip it: they took 110 ms, a hole in every call's audio, and now take under 50.
    gc.collect()
    gc.freeze()
    return_freed_memory()
    # After the freeze: the first call's services must stay collectable once that call ends.
    build_ahead(create_stt, create_llm, create_tts, system_prompt)
    await asyncio.to_thread(wait, [_Ahead.building])  # ready before the first call


def return_freed_memory() -> None:
    """glibc keeps the pages the warm-up freed; handing them back lowers a call's peak memory by 2 MB."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, Alpine): nothing to do
        pass


# One thread builds every call's services: a build is mostly Python, so a second thread would
# only contend with the first (and with the event loop) for the GIL.
_BUILDER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="build-services")


class _Ahead:
    # The next call's services, being built or built. A concurrent.futures.Future, because the
    # development runner warms up in its own event loop and serves calls in another.
    building: Future | None = None


def _build(create_stt: Callable, create_llm: Callable, create_tts: Callable, system_prompt: str) -> tuple:
    return create_stt(), create_llm(system_prompt), create_tts()


def build_ahead(create_stt: Callable, create_llm: Callable, create_tts: Callable, system_prompt: str) -> None:
    """Starts building the next call's STT, LLM and TTS on the builder thread."""
    _Ahead.building = _BUILDER.submit(_build, create_stt, create_llm, create_tts, system_prompt)


async def take_services(
    create_stt: Callable, create_llm: Callable, create_tts: Callable, system_prompt: str
) -> tuple:
    """This call's services, built ahead when they could be; a missing key raises MissingSetting here."""
    building, _Ahead.building = _Ahead.building, None
    if building and building.done():
        logger.info("Using the services built ahead for this call")
    elif building:  # calls arriving together: the previous call started this build moments ago
        logger.info("Waiting for this call's services, already being built")
    else:
        building = _BUILDER.submit(_build, create_stt, create_llm, create_tts, system_prompt)
    build_ahead(create_stt, create_llm, create_tts, system_prompt)
    return await asyncio.wrap_future(building)


async def first_use(stt: STTService, llm: LLMService) -> None:
    """The STT connects once (no audio) and the LLM answers one short request, so their SDKs' first-use
    set-up is done before a caller waits on it."""
    context = LLMContext([{"role": "user", "content": "Reply with the single word: ready"}])
    try:
        await run_once([stt, llm], [LLMContextFrame(context)], FIRST_REPLY_TIMEOUT_SECS)
    except Exception as error:  # a provider problem here shows again, and is handled, in the calls
        logger.warning(f"STT and LLM warm-up failed ({type(error).__name__}: {error})")
