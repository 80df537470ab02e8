"""A caller who goes quiet: after IDLE_TIMEOUT_SECS of silence the bot checks in once, and after a second
silence it says goodbye and ends the call, with one REST hang-up as for end_call.

pipecat's user-idle support times the silence: the aggregator of the caller's turns starts its timer when the
bot stops speaking, stops it when anyone speaks, and raises `on_user_turn_idle`.
"""

from loguru import logger
from pipecat.frames.frames import TTSSpeakFrame, UserIdleTimeoutUpdateFrame
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_response_universal import LLMUserAggregator

import settings
from call_control.feature import CallFeature, say_goodbye
from phone.stream import EndedBy, TwilioCall
from phrases import IDLE_GOODBYE, STILL_THERE


class IdleCaller(CallFeature):
    def __init__(self, call: TwilioCall) -> None:
        self._call = call
        self._timeout = settings.IDLE_TIMEOUT_SECS.seconds()
        self._checked_in = False
        self._worker: PipelineWorker | None = None

    def watch(self, worker: PipelineWorker) -> None:
        self._worker = worker

    def watch_caller(self, user_aggregator: LLMUserAggregator) -> None:
        user_aggregator.add_event_handler("on_user_turn_started", self._caller_spoke)
        user_aggregator.add_event_handler("on_user_turn_idle", self._caller_silent)

    async def on_connected(self) -> None:
        if self._timeout > 0:
            await self._worker.queue_frame(UserIdleTimeoutUpdateFrame(timeout=self._timeout))

    async def _caller_spoke(self, aggregator: LLMUserAggregator, strategy) -> None:
        self._checked_in = False

    async def _caller_silent(self, aggregator: LLMUserAggregator) -> None:
        if not self._checked_in:
            self._checked_in = True
            logger.info(f"Call {self._call.call_sid}: {self._timeout:g} s of silence, checking in")
            await aggregator.push_frame(TTSSpeakFrame(STILL_THERE))
            return
        logger.info(f"Call {self._call.call_sid}: silent again after the check-in, ending the call")
        await say_goodbye(aggregator, self._call, IDLE_GOODBYE, EndedBy.IDLE)
