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
from pipecat.frames.frames import Frame
from pipecat.runner.utils import parse_telephony_websocket
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)

from env_settings import MissingSetting

TWILIO_SAMPLE_RATE = 8000


class TwilioStreamError(RuntimeError):
    """The WebSocket did not open like a Twilio Media Stream."""


@dataclass
class TwilioCall:
    call_sid: str
    stream_sid: str
    transport: FastAPIWebsocketTransport
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def from_number(self) -> str | None:
        return self.parameters.get("from_number")

    @property
    def to_number(self) -> str | None:
        return self.parameters.get("to_number")


class ForgivingTwilioSerializer(TwilioFrameSerializer):
    """Drops a malformed frame instead of ending the call.

    Pipecat's serializer raises on a media payload that is not base64 or on a binary frame; the
    transport takes that as the caller leaving, and auto hang-up would then end a live call.
    """

    async def deserialize(self, data: str | bytes) -> Frame | None:
        try:
            return await super().deserialize(data)
        except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, AttributeError) as error:
            logger.warning(f"Ignoring a malformed Twilio frame: {type(error).__name__}: {error}")
            return None


def twilio_credentials() -> tuple[str, str]:
    """The account SID and auth token the serializer needs to hang up through Twilio's REST API."""
    account_sid = os.getenv("TWILIO_ACCOUNT_SID", "").strip()
    auth_token = os.getenv("TWILIO_AUTH_TOKEN", "").strip()
    missing = [
        name
        for name, value in (("TWILIO_ACCOUNT_SID", account_sid), ("TWILIO_AUTH_TOKEN", auth_token))
        if not value
    ]
    if missing:
        raise MissingSetting(
            f"{' and '.join(missing)} not set: the bot needs them to end calls through Twilio's REST API "
            "(add them to .env, see .env.example)"
        )
    return account_sid, auth_token


async def accept_twilio_call(websocket: WebSocket) -> TwilioCall:
    """Reads the stream's opening messages and builds the transport for this call."""
    account_sid, auth_token = twilio_credentials()
    transport_type, call_data = await parse_telephony_websocket(websocket)
    if transport_type != "twilio" or not call_data.call_id or not call_data.stream_id:
        raise TwilioStreamError(
            f"expected a Twilio Media Stream 'start' message, got a {transport_type!r} handshake"
        )
    serializer = ForgivingTwilioSerializer(
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
        transport=transport,
        parameters=dict(call_data.body or {}),
    )
