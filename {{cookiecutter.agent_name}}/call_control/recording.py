"""Call recording: Twilio records both channels, started through REST as the call begins.

The recording notice (phrases.RECORDING_NOTICE) opens every call. Recordings stay in Twilio, never on
the container's disk, which Pipecat Cloud discards.
"""

from loguru import logger

from call_control.feature import CallFeature
from phone.rest import TwilioRequestError, twilio_api, with_timeout
from phone.stream import TwilioCall


async def start_recording(call_sid: str) -> str:
    """Records both sides of the live call in Twilio; returns the recording's SID."""
    async with twilio_api() as client:
        recordings = client.calls(call_sid).recordings
        recording = await with_timeout(recordings.create_async(recording_channels="dual"))
    return recording.sid


class Recording(CallFeature):
    def __init__(self, call: TwilioCall) -> None:
        self._call = call

    async def on_connected(self) -> None:
        """Starts the recording while the notice plays; the call goes on unrecorded if that fails."""
        try:
            recording_sid = await start_recording(self._call.call_sid)
        except TwilioRequestError as error:
            logger.warning(f"Call {self._call.call_sid}: recording did not start: {error}")
            return
        logger.info(f"Call {self._call.call_sid}: recording {recording_sid}")
