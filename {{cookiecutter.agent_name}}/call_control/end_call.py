"""The end_call tool: the bot says goodbye, then the call ends with exactly one REST hang-up."""

from loguru import logger
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.services.llm_service import FunctionCallParams

from call_control.feature import NO_LLM_RUN, CallFeature, say_goodbye, tool
from phone.stream import EndedBy, TwilioCall
from phrases import GOODBYE


class EndCall(CallFeature):
    def __init__(self, call: TwilioCall) -> None:
        self._call = call

    def tools(self) -> list[FunctionSchema]:
        description = "End the phone call, when the caller says goodbye or has nothing more to ask."
        return [tool("end_call", description, self.end_call)]

    async def end_call(self, params: FunctionCallParams) -> None:
        """Says goodbye, then ends the pipeline; the Twilio serializer then hangs up through REST, once."""
        logger.info(f"Call {self._call.call_sid}: the LLM ended the call")
        await params.result_callback({"status": "ending the call"}, properties=NO_LLM_RUN)
        await say_goodbye(params.llm, self._call, GOODBYE, EndedBy.BOT)
