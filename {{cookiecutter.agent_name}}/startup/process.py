"""What one agent process keeps for all of its calls, and the warm-up that prepares it.

Measured on 2 cores with instant fake providers: the first construction of the STT and LLM services
costs about 180 ms (imports and one-time set-up inside their SDKs), the first LLM reply about 80 ms
more (the SDK builds its response models on first use), and the STT's first connection imports its
streaming client. Pipecat Cloud runs the warm-up from readyz(); the development runner starts it once
it listens (startup/dev_runner.py). It costs one short LLM request and one STT connection per process.

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

from loguru import logger
from pipecat.utils.asyncio.task_manager import BaseTaskManager

import settings
from settings import MissingSetting
from startup.services_ahead import ServicesAhead
from voice.greeting import SpokenOnce
{%- if cookiecutter.pipeline == "cascade" %}
from voice.pipeline import warm_up_voice
{%- endif %}
from voice.providers import Providers
{%- if cookiecutter.pipeline == "realtime" %}
from voice.realtime_pipeline import warm_up_voice
{%- endif %}
from voice.services import Services
from voice.turn_models import TurnModels


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
        warm_up = self._started_warm_up()
        if not warm_up.done():
            return False
        if failure := warm_up.exception():
            logger.opt(exception=failure).error("The warm-up failed: this process takes no calls")
            return False
        return True

    async def warmed_up(self) -> None:
        """A call that arrives before the warm-up has ended waits for it (and one that comes first starts it):
        the greeting, the turn models and the services are then the process's, as for every later call."""
        warm_up = self._started_warm_up()
        if not warm_up.done():
            logger.info("This call waits for the warm-up, still running")
            # Not cancelled with the call; a failure is readyz()'s to report, and the call goes on without.
            await asyncio.wait([warm_up])

    def _started_warm_up(self) -> asyncio.Task:
        if self._warm_up is None:
            self._warm_up = asyncio.create_task(self.warm_up())
        return self._warm_up

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

    async def warm_up(self) -> None:
        # The Twilio SDK loads its REST API's generated modules on first use: 220 ms on the event loop,
        # which would be the first call's, where the caller check asks Twilio, and every other call's.
        importlib.import_module("twilio.rest.api")
        # What exists now (the imports) and what the warm-up keeps (models, SDK set-up) live as long as
        # the process. Frozen, later full collections skip them: they took 110 ms, a hole in every call's
        # audio, and now take under 50. The imports leave no cyclic garbage, so no collection comes first
        # (one here freed nothing, in 115 ms of the readiness time).
        gc.freeze()
        try:
            settings.check_values()
            await warm_up_voice(self.providers, self.spoken, self.turn_models)
        except MissingSetting as error:
            logger.error(f"Not warmed up: {error}")  # and each call stops with the same line until it is set
            return
        gc.collect()  # the warm-up's own pipelines; the frozen imports are not traversed again
        gc.freeze()
        return_freed_memory()
        # After the freeze: the first call's services must stay collectable once that call ends.
        # Ready before the first call; a failed build shows in that call, which builds again.
        await self.services_ahead.build_the_first()


def return_freed_memory() -> None:
    """glibc keeps the pages the warm-up freed; handing them back lowers a call's peak memory by 2 MB."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, Alpine): nothing to do
        pass
