"""One call's services, whichever providers built them."""

import inspect
from dataclasses import dataclass

from aiohttp import ClientSession
from loguru import logger
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService


@dataclass
class Services:
    # The LLM; with pipeline=realtime, the speech-to-speech model, which also hears and speaks.
    llm: LLMService
    stt: STTService | None = None
    tts: TTSService | None = None

    async def close(self) -> None:
        """Closes what these services leave open once their pipeline has ended."""
        await close_sdk_clients(*[service for service in (self.stt, self.llm, self.tts) if service])


async def close_sdk_clients(*services: FrameProcessor) -> None:
    """Closes each service's SDK client, which pipecat 1.14 leaves open when a pipeline ends.

    It closes Google's and Hume's at cleanup, but not the OpenAI-compatible ones (OpenAI, Groq,
    Together and the rest) nor Anthropic's. Each of those owns a connection pool whose keep-alive
    socket to the provider stays open until the garbage collector finds the call, often ten and more
    calls later. Clients with nothing to close (Deepgram's, for its streaming socket) are skipped.
    An aiohttp session that a service was given (ElevenLabs' per-utterance STT, Speechify, MiniMax)
    belongs to the agent, which closes it too.
    """
    for service in services:
        client = getattr(service, "_client", None)
        session = getattr(service, "_session", None)
        for owned in (client, session if isinstance(session, ClientSession) else None):
            close = getattr(owned, "close", None)
            if not inspect.iscoroutinefunction(close):
                continue
            try:
                await close()
            except Exception as error:  # the call is over: a failed close costs nothing but a line
                logger.warning(f"{service}: could not close its client ({type(error).__name__}: {error})")
