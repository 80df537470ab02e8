"""What both pipelines do around their processors: the features' set-up before, the worker after."""

from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMUserAggregator

from call_control.feature import CallFeature
from phone.stream import TWILIO_SAMPLE_RATE, TwilioCall
from voice.services import Services


def call_context(call: TwilioCall, services: Services, features: list[CallFeature]) -> LLMContext:
    """The features shape the transport and see the services; the context offers their tools."""
    for feature in features:
        feature.shape_transport(call.transport_params)
        feature.use_services(services)
    return LLMContext(tools=ToolsSchema(standard_tools=[tool for f in features for tool in f.tools()]))


def call_worker(
    pipeline: Pipeline,
    features: list[CallFeature],
    user_aggregator: LLMUserAggregator,
    idle_timeout_secs: float | None,
) -> PipelineWorker:
    """The call's worker at the line's 8 kHz, which the features then watch."""
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
    return worker
