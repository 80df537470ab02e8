"""Turns a Twilio Media Streams WebSocket into a Pipecat transport for one phone call.

Twilio opens the stream with a `connected` and a `start` message. `start` carries the CallSid,
the StreamSid and the TwiML `<Parameter>` values, which this module hands to the bot as
`TwilioCall.parameters`.
"""

import asyncio
import binascii
from dataclasses import dataclass, field

from fastapi import WebSocket
from loguru import logger
from pipecat.frames.frames import CancelFrame, EndFrame, Frame, OutputAudioRawFrame
from pipecat.runner.utils import parse_telephony_websocket
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)

import settings

TWILIO_SAMPLE_RATE = 8000
FRAME_BYTES = TWILIO_SAMPLE_RATE * 2 // 50  # 20 ms of 16-bit audio, the size of Twilio's own frames


class TwilioStreamError(RuntimeError):
    """The WebSocket did not open like a Twilio Media Stream."""


class CallSerializer(TwilioFrameSerializer):
    """Pipecat's Twilio serializer, made safe for a live phone call.

    It drops a malformed frame instead of ending the call: pipecat's serializer raises on a media
    payload that is not base64 or on a binary frame, the transport takes that as the caller leaving,
    and auto hang-up would then end the call. And it can leave the call up when the pipeline ends.
    """

    _keep_call_alive = False

    def keep_call_alive(self) -> None:
        """The call now belongs to other TwiML (a transfer): ending the pipeline must not hang it up."""
        self._keep_call_alive = True

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if self._keep_call_alive and isinstance(frame, (EndFrame, CancelFrame)):
            return None
        return await super().serialize(frame)

    async def deserialize(self, data: str | bytes) -> Frame | None:
        try:
            return await super().deserialize(data)
        except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, AttributeError) as error:
            logger.warning(f"Ignoring a malformed Twilio frame: {type(error).__name__}: {error}")
            return None


@dataclass
class TwilioCall:
    call_sid: str
    stream_sid: str
    websocket: WebSocket
    transport: FastAPIWebsocketTransport
    serializer: CallSerializer
    parameters: dict[str, str] = field(default_factory=dict)
    # Twilio's verdict on the CallSid (phone/caller_check.py): True once confirmed, False if refused.
    confirmation: asyncio.Future[bool] | None = None

    async def confirmed(self) -> bool:
        """Waits for Twilio's verdict: a REST request that acts on the call must not run before it."""
        # Shielded: cancelling one waiter (an interruption) never cancels the question to Twilio.
        return await asyncio.shield(self.confirmation)

    @property
    def from_number(self) -> str | None:
        return self.parameters.get("from_number")

    @property
    def to_number(self) -> str | None:
        return self.parameters.get("to_number")

    @property
    def is_outbound(self) -> bool:
        """The bot placed this call (its TwiML says direction=outbound)."""
        return self.parameters.get("direction") == "outbound"


async def accept_twilio_call(websocket: WebSocket) -> TwilioCall:
    """Reads the stream's opening messages and builds the transport for this call."""
    settings.twilio_credentials()  # a missing one stops the call here, with the line that names it
    transport_type, call_data = await parse_telephony_websocket(websocket)
    if transport_type != "twilio" or not call_data.call_id or not call_data.stream_id:
        raise TwilioStreamError(
            f"expected a Twilio Media Stream 'start' message, got a {transport_type!r} handshake"
        )
    return open_call(websocket, call_data.call_id, call_data.stream_id, dict(call_data.body or {}))


def open_call(websocket: WebSocket, call_sid: str, stream_sid: str, parameters: dict[str, str]) -> TwilioCall:
    """The serializer and transport of a call whose stream has started."""
    account_sid, auth_token = settings.twilio_credentials()
    serializer = CallSerializer(
        stream_sid=stream_sid,
        call_sid=call_sid,
        account_sid=account_sid,
        auth_token=auth_token,
        # Regional endpoints, proxies and test fakes; auto hang-up posts here too.
        base_url=settings.TWILIO_API_BASE_URL.value() or None,
    )
    transport = FastAPIWebsocketTransport(
        websocket=websocket,
        params=FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            add_wav_header=False,
            serializer=serializer,
        ),
    )
    return TwilioCall(call_sid, stream_sid, websocket, transport, serializer, parameters)


async def send_audio_now(call: TwilioCall, pcm: bytes) -> None:
    """Sends 8 kHz 16-bit audio straight to Twilio, which plays it in order and drops it on `clear`."""
    for start in range(0, len(pcm), FRAME_BYTES):
        frame = OutputAudioRawFrame(pcm[start : start + FRAME_BYTES], TWILIO_SAMPLE_RATE, 1)
        await call.websocket.send_text(await call.serializer.serialize(frame))
