"""What a call-control feature may add to a call. bot.py lists the enabled features; each hook is optional."""

from collections.abc import Awaitable, Callable

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.frames.frames import EndWorkerFrame, FunctionCallResultProperties, TTSSpeakFrame
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMUserAggregator
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.services.llm_service import FunctionCallParams
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams

from phone.stream import EndedBy, TwilioCall
from voice.greeting import Greeting
from voice.services import Services

# A tool's result that the LLM must not answer: the tool speaks for itself.
NO_LLM_RUN = FunctionCallResultProperties(run_llm=False)


async def say_goodbye(processor: FrameProcessor, call: TwilioCall, goodbye: str, cause: EndedBy) -> None:
    """The caller hears `goodbye`, then the call ends; the Twilio serializer hangs up through REST, once."""
    call.ends_as(cause)
    await processor.push_frame(TTSSpeakFrame(goodbye))
    # Pushed downstream behind the goodbye, so the caller hears it before the line closes.
    await processor.push_frame(EndWorkerFrame(reason=cause))


def spoken_turns(context: LLMContext) -> list[tuple[str, str]]:
    """(role, text) of what the caller and the bot said, in order: no instructions, tools or images."""
    # Some LLMs keep messages of their own in the context (Gemini's thought signatures): not dicts.
    return [
        (message["role"], message["content"])
        for message in context.get_messages()
        if isinstance(message, dict)
        and message.get("role") in ("user", "assistant")
        and isinstance(message.get("content"), str)
    ]


def tool(
    name: str, description: str, handler: Callable[[FunctionCallParams], Awaitable[None]]
) -> FunctionSchema:
    """A function without arguments for the LLM; `handler` runs when the LLM calls it."""
    return FunctionSchema(name=name, description=description, properties={}, required=[], handler=handler)


class CallFeature:
    def tools(self) -> list[FunctionSchema]:
        """Functions the LLM may call."""
        return []

    def shape_transport(self, params: FastAPIWebsocketParams) -> None:
        """Changes how the call's transport takes the caller's audio (its filter), before the call starts."""

    def use_services(self, services: Services) -> None:
        """Called with the call's services, before its pipeline is built."""

    def processors(self) -> list[FrameProcessor]:
        """Processors placed right after the speech-to-text, before turn taking."""
        return []

    def speech_processors(self) -> list[FrameProcessor]:
        """Processors placed right after the text-to-speech, before the caller hears it."""
        return []

    def shape_greeting(self, greeting: Greeting) -> None:
        """Changes what the caller hears first, or what the LLM is told then."""

    def watch(self, worker: PipelineWorker) -> None:
        """Called once the call's pipeline is built."""

    def watch_caller(self, user_aggregator: LLMUserAggregator) -> None:
        """Called with the aggregator of the caller's turns, whose events (pipecat's) a feature may handle."""

    async def on_connected(self) -> None:
        """Called as the call starts, once the greeting is under way."""

    async def on_ended(self) -> None:
        """Called once the call has ended and its services are released."""
