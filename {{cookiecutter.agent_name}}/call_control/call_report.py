{%- set agent = cookiecutter | agent -%}
"""One record per call, made when it ends: a JSON log line and, when CALL_REPORT_URL is set, a POST there
(with a timeout and one retry), so a team can feed its CRM. The call is over by then: an endpoint that
fails or hangs costs one warning line, and the caller never notices.

The transcript is personal data: it is in the record only with CALL_REPORT_TRANSCRIPT=yes.
"""

import asyncio
import json
import time
from datetime import UTC, datetime

import aiohttp
from loguru import logger
{%- if agent.realtime %}
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    ErrorFrame,
    FunctionCallInProgressFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
{%- else %}
from pipecat.frames.frames import ErrorFrame, FunctionCallInProgressFrame
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.observers.user_bot_latency_observer import UserBotLatencyObserver
{%- endif %}
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_response_universal import LLMUserAggregator
from pipecat.processors.frame_processor import FrameDirection

import settings
from call_control.feature import CallFeature, spoken_turns
from phone.stream import EndedBy, TwilioCall

ATTEMPTS = 2
RETRY_AFTER_SECS = 1.0


class ToolsAndErrors(BaseObserver):
    """The tools the LLM called and the errors the services reported, each seen once."""

    def __init__(self) -> None:
        super().__init__(observe_every_push=False)
        self.tools: list[str] = []
        self.errors: list[str] = []

    async def on_push_frame(self, data: FramePushed) -> None:
        # The LLM sends a tool call both ways (a copy each): counted once, downstream.
        downstream = data.direction == FrameDirection.DOWNSTREAM
        if isinstance(data.frame, FunctionCallInProgressFrame) and downstream:
            self.tools.append(data.frame.function_name)
        elif isinstance(data.frame, ErrorFrame):
            self.errors.append(data.frame.error)


{%- if agent.realtime %}


class ReplyLatency(BaseObserver):
    """pipecat's UserBotLatencyObserver times from its local VAD, which a speech-to-speech model has no need
    of: here a turn's latency runs from the model's end-of-speech event (after its own silence window) to
    the bot's first audio of the reply."""

    def __init__(self, measured: list[int]) -> None:
        super().__init__(observe_every_push=False)
        self._measured = measured
        self._caller_stopped_at: float | None = None

    async def on_push_frame(self, data: FramePushed) -> None:
        if isinstance(data.frame, UserStoppedSpeakingFrame) and data.direction == FrameDirection.DOWNSTREAM:
            self._caller_stopped_at = time.monotonic()
        elif isinstance(data.frame, BotStartedSpeakingFrame) and self._caller_stopped_at is not None:
            self._measured.append(round((time.monotonic() - self._caller_stopped_at) * 1000))
            self._caller_stopped_at = None
{%- endif %}


class CallReport(CallFeature):
    def __init__(self, call: TwilioCall) -> None:
        self._call = call
        self._started_at = datetime.now(UTC)
        self._started = time.monotonic()
        self._turns = 0
        self._latencies_ms: list[int] = []
        self._seen = ToolsAndErrors()
        self._user_aggregator: LLMUserAggregator | None = None

    def watch(self, worker: PipelineWorker) -> None:
{%- if agent.realtime %}
        worker.add_observer(ReplyLatency(self._latencies_ms))
{%- else %}
        # pipecat's measure: from the end of the caller's turn to the bot's first audio of the reply.
        latency = UserBotLatencyObserver()
        latency.add_event_handler("on_latency_measured", self._latency_measured)
        worker.add_observer(latency)
{%- endif %}
        worker.add_observer(self._seen)

    def watch_caller(self, user_aggregator: LLMUserAggregator) -> None:
        self._user_aggregator = user_aggregator
        # Once the caller's words are in the context: a speech-to-speech model transcribes after the turn.
        user_aggregator.add_event_handler("on_user_turn_message_added", self._caller_turn_ended)
{%- if not agent.realtime %}

    async def _latency_measured(self, observer: UserBotLatencyObserver, latency_secs: float) -> None:
        self._latencies_ms.append(round(latency_secs * 1000))
{%- endif %}

    async def _caller_turn_ended(self, aggregator: LLMUserAggregator, message) -> None:
        if message.content:  # a turn of noise, with nothing transcribed, is no turn
            self._turns += 1

    def record(self) -> dict:
        record = {
            "call_sid": self._call.call_sid,
            # A call back from a transfer has a second stream, and a second report.
            "stream_sid": self._call.stream_sid,
            "direction": "outbound" if self._call.is_outbound else "inbound",
            "started_at": self._started_at.isoformat(timespec="seconds"),
            "duration_secs": round(time.monotonic() - self._started, 1),
            "ended_by": self._call.ended_by or EndedBy.ERROR,
            "turns": self._turns,
            "turn_latency_ms": self._latencies_ms,
            "tools": self._seen.tools,
            "errors": self._call.errors + self._seen.errors,
        }
        if settings.CALL_REPORT_TRANSCRIPT.value() == "yes":
            record["transcript"] = self._transcript()
        return record

    def _transcript(self) -> list[dict[str, str]]:
        if self._user_aggregator is None:
            return []
        return [{"role": role, "text": text} for role, text in spoken_turns(self._user_aggregator.context)]

    async def on_ended(self) -> None:
        """A bad report setting, like a failed POST, is one warning line: the call has ended well."""
        sid = self._call.call_sid
        try:
            record = self.record()
            logger.info(f"Call {sid} report: {json.dumps(record)}")
            # A refused stream's CallSid is whatever its sender made up: it stays in the log.
            url = settings.CALL_REPORT_URL.value()
            if url and self._call.ended_by != EndedBy.REFUSED:
                await self._post(url, record, settings.CALL_REPORT_TIMEOUT_SECS.seconds())
        except settings.MissingSetting as bad_setting:
            logger.warning(f"Call {sid}: no call report: {bad_setting}")

    async def _post(self, url: str, record: dict, timeout_secs: float) -> None:
        """The URL is not logged: it may carry the endpoint's own token."""
        problem = ""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                # asyncio's timeout, since aiohttp's own treats 0 as none at all.
                async with asyncio.timeout(timeout_secs), aiohttp.ClientSession() as session:
                    async with session.post(url, json=record) as response:
                        if response.status < 300:
                            return
                        problem = f"it answered {response.status}"
                        if response.status < 500 and response.status != 429:
                            break  # the request itself is wrong: sending it again cannot help
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                problem = f"no answer ({type(error).__name__})"
            if attempt < ATTEMPTS:
                await asyncio.sleep(RETRY_AFTER_SECS)
        sid = self._call.call_sid
        logger.warning(f"Call {sid}: the call report did not reach CALL_REPORT_URL: {problem}")
