"""What one agent process keeps for all of its calls, and the warm-up that prepares it.

Measured on 2 cores with instant fake providers: the first construction of the STT and LLM services
costs about 180 ms (imports and one-time set-up inside their SDKs), the first LLM reply about 80 ms
more (the SDK builds its response models on first use), and the STT's first connection imports its
streaming client. Pipecat Cloud runs the warm-up from readyz(); the development runner runs it
before it serves. It costs one short LLM request and one STT connection per process.

A call's objects (its pipeline, transport and services) refer to each other in cycles, so only a full
garbage collection frees them, and the interpreter runs one about every ten calls: over 200 calls in
one process, up to 18 ended calls stayed in memory, RSS grew 36 to 39 MB after call 10, and each of
those calls kept a keep-alive socket to the LLM open. So a call that ends closes its services' clients
and is collected at once.
"""

import asyncio
import ctypes
import gc
import importlib
from concurrent.futures import wait

from loguru import logger
from pipecat.frames.frames import LLMContextFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService
from pipecat.utils.asyncio.task_manager import BaseTaskManager

import settings
from phrases import OPENING
from settings import MissingSetting
from startup.run_once import run_once
from startup.services_ahead import ServicesAhead
from voice.greeting import SpokenOnce
from voice.providers import Providers
from voice.services import Services, close_sdk_clients
from voice.turn_models import TurnModels

FIRST_REPLY_TIMEOUT_SECS = 15


class AgentProcess:
    """The turn models, the spoken greeting and the services built ahead, shared by the calls.

    Pipecat Cloud runs one call at a time per agent instance; the development runner serves many
    calls from one process. Either way, these live as long as the process.
    """

    def __init__(self, providers: Providers) -> None:
        self.providers = providers
        self.turn_models = TurnModels()
        self.spoken = SpokenOnce()
        self.services_ahead = ServicesAhead(providers)
        self._warm_up: asyncio.Task | None = None

    async def readyz(self) -> bool:
        """True once the warm-up has run, whatever a provider answered; the first question starts it.

        It stays false if the warm-up itself broke (the turn models did not load): no call could run.
        """
        if self._warm_up is None:
            self._warm_up = asyncio.create_task(self.warm_up())
        if not self._warm_up.done():
            return False
        if failure := self._warm_up.exception():
            logger.opt(exception=failure).error("The warm-up failed: this process takes no calls")
            return False
        return True

    async def call_ended(self, services: Services, call_tasks: BaseTaskManager) -> None:
        """Releases a call whose pipeline has ended: bot() calls it last."""
        # A call cancelled while it starts can leave a task running: pipecat then only cleans the
        # pipeline up, and a segmented STT that had started its transcription task never cancels it.
        left_running = call_tasks.current_tasks()
        if left_running:
            names = [task.get_name() for task in left_running]
            logger.debug(f"Cancelling what the call left running: {names}")
        for task in left_running:
            await call_tasks.cancel_task(task, timeout=1)
        await services.close()
        # Right after bot() returns nothing refers to the call any more: collected then, on the event
        # loop (the finalizers of its sockets belong there). With the warm-up's freeze, a collection with
        # one dead call takes about 7 ms; whatever is still referenced waits for the next call's.
        asyncio.get_running_loop().call_soon(gc.collect)

    def warm_up_before_serving(self) -> None:
        """The development runner has no readiness probe, so the warm-up runs before it serves."""
        asyncio.run(self.warm_up())

    async def warm_up(self) -> None:
        # Here rather than at import; on a thread of its own it would cost 1.4 MB of peak memory.
        self.turn_models.load()
        # The Twilio SDK loads its REST API's generated modules on first use: 220 ms on the event loop,
        # which would be the first call's, where the caller check asks Twilio, and every other call's.
        importlib.import_module("twilio.rest.api")
        try:
            settings.check_values()
            stt, llm = self.providers.create_stt(), self.providers.create_llm()
        except MissingSetting as error:
            logger.error(f"Not warmed up: {error}")  # and each call stops with the same line until it is set
            return
        # A missing text-to-speech key leaves the greeting to the calls, which then report it.
        await asyncio.gather(first_use(stt, llm), self.spoken.synthesize(OPENING, self.providers.create_tts))
        await close_sdk_clients(stt, llm)
        del stt, llm  # their pipelines have ended; nothing of them may outlive the warm-up
        # What exists now (imports, models, SDK set-up) lives as long as the process. Frozen, later full
        # collections skip it: they took 110 ms, a hole in every call's audio, and now take under 50.
        gc.collect()
        gc.freeze()
        return_freed_memory()
        # After the freeze: the first call's services must stay collectable once that call ends.
        # Ready before the first call; a failed build shows in that call, which builds again.
        await asyncio.to_thread(wait, [self.services_ahead.build_next()])


def return_freed_memory() -> None:
    """glibc keeps the pages the warm-up freed; handing them back lowers a call's peak memory by 2 MB."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, Alpine): nothing to do
        pass


async def first_use(stt: STTService, llm: LLMService) -> None:
    """The STT connects once (no audio) and the LLM answers one short request, so their SDKs' first-use
    set-up is done before a caller waits on it."""
    context = LLMContext([{"role": "user", "content": "Reply with the single word: ready"}])
    try:
        await run_once([stt, llm], [LLMContextFrame(context)], FIRST_REPLY_TIMEOUT_SECS)
    except Exception as error:  # a provider problem here shows again, and is handled, in the calls
        logger.warning(f"STT and LLM warm-up failed ({type(error).__name__}: {error})")
