"""The pipeline of one call. bot() builds it, and so do the agent's tests, with the same function."""

import asyncio

from loguru import logger
from pipecat.frames.frames import LLMContextFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService

from call_control.feature import CallFeature
from phone.stream import TwilioCall
from phrases import OPENING
from startup.run_once import run_once
from voice.call_worker import call_context, call_worker
from voice.caller_audio import CallerAudioEnd
from voice.greeting import Greeting, SpokenOnce
from voice.providers import Providers
from voice.reply_guard import ReplyGuard
from voice.services import Services, close_sdk_clients
from voice.turn_models import TurnModels

FIRST_REPLY_TIMEOUT_SECS = 15


def build_pipeline(
    call: TwilioCall,
    services: Services,
    features: list[CallFeature],
    greeting: Greeting,
    turn_models: TurnModels,
    idle_timeout_secs: float | None = None,
) -> tuple[PipelineWorker, LLMContext]:
    """The call's worker, ready to run, and the LLM context it converses in."""
    context = call_context(call, services, features)
    # Silero VAD plus smart-turn v3 (pipecat's default turn taking) decide when the caller is done.
    user_aggregator, assistant_aggregator = LLMContextAggregatorPair(
        context, user_params=turn_models.user_turn_params()
    )
    pipeline = Pipeline(
        [
            call.transport.input(),
            services.stt,
            *[processor for feature in features for processor in feature.processors()],
            user_aggregator,
            CallerAudioEnd(),
            # The caller never waits in silence: an apology, or a recorded prompt, if a provider fails.
            ReplyGuard(services, call),
            services.llm,
            services.tts,
            *[processor for feature in features for processor in feature.speech_processors()],
            *greeting.processors(),
            call.transport.output(),
            assistant_aggregator,
        ]
    )
    worker = call_worker(pipeline, features, user_aggregator, idle_timeout_secs)
    return worker, context


async def warm_up_voice(providers: Providers, spoken: SpokenOnce, turn_models: TurnModels) -> None:
    """Loads the turn models, does the STT's and LLM's first use, and synthesizes the greeting.

    A missing STT or LLM setting raises MissingSetting; a missing text-to-speech key leaves the greeting to
    the calls, which then report it.
    """
    # Here rather than at import; on a thread of its own it would cost 1.4 MB of peak memory.
    turn_models.load()
    stt, llm = providers.create_stt(), providers.create_llm()
    await asyncio.gather(first_use(stt, llm), spoken.synthesize(OPENING, providers.create_tts))
    await close_sdk_clients(stt, llm)


async def first_use(stt: STTService, llm: LLMService) -> None:
    """The STT connects once (no audio) and the LLM answers one short request, so their SDKs' first-use
    set-up is done before a caller waits on it."""
    context = LLMContext([{"role": "user", "content": "Reply with the single word: ready"}])
    try:
        await run_once([stt, llm], [LLMContextFrame(context)], FIRST_REPLY_TIMEOUT_SECS)
    except Exception as error:  # a provider problem here shows again, and is handled, in the calls
        logger.warning(f"STT and LLM warm-up failed ({type(error).__name__}: {error})")
