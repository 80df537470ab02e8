"""Each call's STT, LLM and TTS, built on a worker thread one call ahead.

Even a warm build takes about 40 ms of CPU (each SDK client loads its TLS certificates). On the
event loop that would be a 40 ms hole in every other call's audio, so one thread builds them, and
each call starts the build for the next one.
"""

import asyncio
from concurrent.futures import Future, ThreadPoolExecutor

from loguru import logger

from voice.providers import Providers
from voice.services import Services


class ServicesAhead:
    def __init__(self, providers: Providers) -> None:
        self._create_services = providers.create_services
        # One thread: a build is mostly Python, so a second thread would only contend with the first
        # (and with the event loop) for the GIL.
        self._builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="build-services")
        # A concurrent.futures.Future, because the development runner warms up in its own event loop
        # and serves calls in another.
        self._next: Future | None = None

    def build_next(self) -> Future:
        """Starts building the next call's services on the builder thread."""
        self._next = self._builder.submit(self._create_services)
        return self._next

    async def take(self) -> Services:
        """This call's services, built ahead when they could be; a missing key raises MissingSetting here."""
        building, self._next = self._next, None
        if building and building.done():
            logger.info("Using the services built ahead for this call")
        elif building:  # calls arriving together: the previous call started this build moments ago
            logger.info("Waiting for this call's services, already being built")
        else:
            building = self._builder.submit(self._create_services)
        self.build_next()
        return await asyncio.wrap_future(building)
