"""One call's services, whichever providers built them."""

from dataclasses import dataclass

from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService


@dataclass
class Services:
    stt: STTService
    llm: LLMService
    tts: TTSService
