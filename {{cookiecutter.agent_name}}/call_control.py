"""LLM tools that control the live phone call."""

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import EndWorkerFrame, FunctionCallResultProperties, TTSSpeakFrame
from pipecat.services.llm_service import FunctionCallParams

GOODBYE = "Thank you for calling. Goodbye!"


async def end_call(params: FunctionCallParams) -> None:
    """Says goodbye, then ends the pipeline; the Twilio serializer then hangs up through REST, once."""
    await params.result_callback(
        {"status": "ending the call"}, properties=FunctionCallResultProperties(run_llm=False)
    )
    await params.llm.push_frame(TTSSpeakFrame(GOODBYE))
    # Pushed downstream behind the goodbye, so the caller hears it before the line closes.
    await params.llm.push_frame(EndWorkerFrame(reason="end_call tool"))


END_CALL = FunctionSchema(
    name="end_call",
    description="End the phone call. Use it when the caller says goodbye or has nothing more to ask.",
    properties={},
    required=[],
    handler=end_call,
)


def call_tools() -> ToolsSchema:
    return ToolsSchema(standard_tools=[END_CALL])
