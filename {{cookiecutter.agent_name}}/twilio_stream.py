"""Turns a Twilio Media Streams WebSocket into a Pipecat transport for one phone call.

Twilio opens the stream with a `connected` and a `start` message. `start` carries the CallSid,
the StreamSid and the TwiML `<Parameter>` values, which this module hands to the bot as
`TwilioCall.parameters`.
"""

import binascii
import os
from dataclasses import dataclass, field

from fastapi import WebSocket
from loguru import logger
from pipecat.frames.frames import {% if cookiecutter.call_transfer == "yes" %}CancelFrame, EndFrame, {% endif %}Frame, OutputAudioRawFrame
from pipecat.runner.utils import parse_telephony_websocket
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)

from env_settings import twilio_credentials

TWILIO_SAMPLE_RATE = 8000
FRAME_BYTES = TWILIO_SAMPLE_RATE * 2 // 50  # 20 ms of 16-bit audio, the size of Twilio's own frames


class TwilioStreamError(RuntimeError):
    """The WebSocket did not open like a Twilio Media Stream."""


class CallSerializer(TwilioFrameSerializer):
    """Pipecat's Twilio serializer, made safe for a live phone call.

    It drops a malformed frame instead of ending the call: pipecat's serializer raises on a media
    payload that is not base64 or on a binary frame, the transport takes that as the caller leaving,
    and auto hang-up would then end the call.{% if cookiecutter.call_transfer == "yes" %} And it can leave the call up when the pipeline ends.{% endif %}
    """
{%- if cookiecutter.call_transfer == "yes" %}

    _keep_call_alive = False

    def keep_call_alive(self) -> None:
        """The call now belongs to other TwiML (a transfer): ending the pipeline must not hang it up."""
        self._keep_call_alive = True

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if self._keep_call_alive and isinstance(frame, (EndFrame, CancelFrame)):
            return None
        return await super().serialize(frame)
{%- endif %}

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

    @property
    def from_number(self) -> str | None:
        return self.parameters.get("from_number")

    @property
    def to_number(self) -> str | None:
        return self.parameters.get("to_number")
{%- if cookiecutter.outbound_calls == "yes" %}

    @property
    def is_outbound(self) -> bool:
        return self.parameters.get("direction") == "outbound"
{%- endif %}
{%- if cookiecutter.call_transfer == "yes" %}

    @property
    def twilio_number(self) -> str | None:
{%- if cookiecutter.outbound_calls == "yes" %}
        """This account's own number on the call: the one called, or the one calling out."""
        return self.from_number if self.is_outbound else self.to_number
{%- else %}
        """This account's own number on the call: the one the caller dialed."""
        return self.to_number
{%- endif %}
{%- endif %}


async def accept_twilio_call(websocket: WebSocket) -> TwilioCall:
    """Reads the stream's opening messages and builds the transport for this call."""
    account_sid, auth_token = twilio_credentials()
    transport_type, call_data = await parse_telephony_websocket(websocket)
    if transport_type != "twilio" or not call_data.call_id or not call_data.stream_id:
        raise TwilioStreamError(
            f"expected a Twilio Media Stream 'start' message, got a {transport_type!r} handshake"
        )
    serializer = CallSerializer(
        stream_sid=call_data.stream_id,
        call_sid=call_data.call_id,
        account_sid=account_sid,
        auth_token=auth_token,
        # Regional endpoints, proxies and test fakes; auto hang-up posts here too.
        base_url=os.getenv("TWILIO_API_BASE_URL", "").strip() or None,
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
    return TwilioCall(
        call_sid=call_data.call_id,
        stream_sid=call_data.stream_id,
        websocket=websocket,
        transport=transport,
        serializer=serializer,
        parameters=dict(call_data.body or {}),
    )


async def send_audio_now(call: TwilioCall, pcm: bytes) -> None:
    """Sends 8 kHz 16-bit audio straight to Twilio, which plays it in order and drops it on `clear`."""
    for start in range(0, len(pcm), FRAME_BYTES):
        frame = OutputAudioRawFrame(pcm[start : start + FRAME_BYTES], TWILIO_SAMPLE_RATE, 1)
        await call.websocket.send_text(await call.serializer.serialize(frame))
