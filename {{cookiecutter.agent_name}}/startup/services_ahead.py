"""Each call's STT, LLM and TTS, built on a worker thread one call ahead.

Even a warm build takes about 40 ms of CPU (each SDK client loads its TLS certificates). On the
event loop that would be a 40 ms hole in every other call's audio, so one thread builds them, and
each call starts the build for the next one. A service whose client binds to the event loop it is
made on (a gRPC channel, an aiohttp session) cannot be built there: then voice.providers sets
SERVICES_BUILT_AHEAD to False, and each call builds its own services on its loop as it starts.
"""

import asyncio
from concurrent.futures import Future, ThreadPoolExecutor, wait

from loguru import logger

from voice.providers import SERVICES_BUILT_AHEAD, Providers
from voice.services import Services

# What take() logs of where this call's services came from.
BUILT_AHEAD = "Using the services built ahead for this call"
BUILT_BY_THE_CALL = "Built this call's services on its event loop"


class ServicesAhead:
    def __init__(self, providers: Providers, built_ahead: bool = SERVICES_BUILT_AHEAD) -> None:
        self._create_services = providers.create_services
        self._built_ahead = built_ahead
        # One thread: a build is mostly Python, so a second thread would only contend with the first
        # (and with the event loop) for the GIL.
        self._builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="build-services")
        # A concurrent.futures.Future: the builder thread completes it, and whichever coroutine takes it
        # (the warm-up's or a call's) awaits it without blocking its event loop.
        self._next: Future | None = None

    def build_next(self) -> Future:
        """Starts building the next call's services on the builder thread."""
        self._next = self._builder.submit(self._create_services)
        return self._next

    async def build_the_first(self) -> None:
        """Builds the first call's services before it arrives, where they are built ahead at all."""
        if self._built_ahead:
            await asyncio.to_thread(wait, [self.build_next()])

    async def take(self) -> Services:
        """This call's services, built ahead when they could be; a missing key raises MissingSetting here."""
        if not self._built_ahead:
            services = self._create_services()  # on this call's event loop, which their clients bind to
            logger.info(BUILT_BY_THE_CALL)
            return services
        building, self._next = self._next, None
        if building and building.done():
            logger.info(BUILT_AHEAD)
        elif building:  # calls arriving together: the previous call started this build moments ago
            logger.info("Waiting for this call's services, already being built")
        else:
            building = self._builder.submit(self._create_services)
        self.build_next()
        return await asyncio.wrap_future(building)
