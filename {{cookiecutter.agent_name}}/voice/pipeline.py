"""The pipeline of one call. bot() builds it, and so do the agent's tests, with the same function."""

from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair

from call_control.feature import CallFeature
from phone.stream import TWILIO_SAMPLE_RATE, TwilioCall
from voice.caller_audio import CallerAudioEnd
from voice.greeting import Greeting
from voice.reply_guard import ReplyGuard
from voice.services import Services
from voice.turn_models import TurnModels


def build_pipeline(
    call: TwilioCall,
    services: Services,
    features: list[CallFeature],
    greeting: Greeting,
    turn_models: TurnModels,
    idle_timeout_secs: float | None = None,
) -> tuple[PipelineWorker, LLMContext]:
    """The call's worker, ready to run, and the LLM context it converses in."""
    for feature in features:
        feature.shape_transport(call.transport_params)
        feature.use_services(services)
    context = LLMContext(tools=ToolsSchema(standard_tools=[tool for f in features for tool in f.tools()]))
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
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(
            audio_in_sample_rate=TWILIO_SAMPLE_RATE,
            audio_out_sample_rate=TWILIO_SAMPLE_RATE,
            enable_metrics=True,
        ),
        idle_timeout_secs=idle_timeout_secs,
        # RTVI serves web and app clients; a phone line has none. Turn tracking only feeds tracing,
        # which is off. Each would watch every frame of the call.
        enable_rtvi=False,
        enable_turn_tracking=False,
    )
    for feature in features:
        feature.watch(worker)
        feature.watch_caller(user_aggregator)
    return worker, context
