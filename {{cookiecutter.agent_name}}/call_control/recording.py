"""Call recording: Twilio records both channels, started through REST once the notice plays.

The recording notice (phrases.RECORDING_NOTICE) opens every call. The recording starts as the
caller hears it: at once when it plays from the cache, else when the bot starts to speak it live.
A call whose notice never plays (the text-to-speech is down) is not recorded. Recordings stay in
Twilio, never on the container's disk, which Pipecat Cloud discards.
"""

import asyncio

from loguru import logger
from pipecat.frames.frames import BotStartedSpeakingFrame, UserStartedSpeakingFrame
from pipecat.pipeline.worker import PipelineWorker

from call_control.feature import CallFeature
from phone.rest import TwilioRequestError, twilio_api, with_timeout
from phone.stream import TwilioCall
from voice.greeting import Greeting


async def start_recording(call_sid: str) -> str:
    """Records both sides of the live call in Twilio; returns the recording's SID."""
    async with twilio_api() as client:
        recordings = client.calls(call_sid).recordings
        recording = await with_timeout(recordings.create_async(recording_channels="dual"))
    return recording.sid


class Recording(CallFeature):
    def __init__(self, call: TwilioCall) -> None:
        self._call = call
        self._greeting: Greeting | None = None
        # Twilio records the call, not the stream: a caller back from a transfer is being recorded still.
        self._started = call.is_back_from_transfer
        self._request: asyncio.Task | None = None

    def shape_greeting(self, greeting: Greeting) -> None:
        self._greeting = greeting

    def watch(self, worker: PipelineWorker) -> None:
        # The notice is the bot's first speech: if the caller speaks first, it has not played.
        worker.add_reached_downstream_filter((BotStartedSpeakingFrame, UserStartedSpeakingFrame))

        @worker.event_handler("on_frame_reached_downstream")
        async def notice_spoken_live(worker, frame):
            if isinstance(frame, BotStartedSpeakingFrame):
                await self._start()
            elif isinstance(frame, UserStartedSpeakingFrame) and not self._started:
                self._started = True
                logger.warning(f"Call {self._call.call_sid}: not recorded: the recording notice did not play")

        # A caller who hangs up must not keep the call's task waiting for Twilio's answer.
        @worker.event_handler("on_pipeline_finished")
        async def call_ended(worker, frame):
            if self._request:
                self._request.cancel()

    async def on_connected(self) -> None:
        if self._greeting and self._greeting.played_from_cache:
            await self._start()  # the notice is playing now

    async def _start(self) -> None:
        """Asks Twilio to record, once, without holding up the call while it answers."""
        if not self._started:
            self._started = True
            self._request = asyncio.create_task(self._record())

    async def _record(self) -> None:
        """The call goes on unrecorded if the request fails."""
        if not await self._call.confirmed():
            return  # a stream Twilio did not connect: its CallSid is not ours to record
        try:
            recording_sid = await start_recording(self._call.call_sid)
        except TwilioRequestError as error:
            logger.warning(f"Call {self._call.call_sid}: recording did not start: {error}")
            return
        except asyncio.CancelledError:
            logger.info(f"Call {self._call.call_sid}: the call ended before Twilio started the recording")
            return
        logger.info(f"Call {self._call.call_sid}: recording {recording_sid}")
