"""Turns a Twilio Media Streams WebSocket into a Pipecat transport for one phone call.

Twilio opens the stream with a `connected` and a `start` message. `start` carries the CallSid,
the StreamSid and the TwiML `<Parameter>` values, which this module hands to the bot as
`TwilioCall.parameters`. A stream without a `start` within HANDSHAKE_TIMEOUT_SECS is closed, and
so is one that cannot become a call; a message Twilio would never send is ignored, not fatal.
"""

import asyncio
import binascii
import json
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from fastapi import WebSocket, WebSocketDisconnect
from loguru import logger
from pipecat.frames.frames import CancelFrame, EndFrame, Frame, OutputAudioRawFrame
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)
from starlette import status
from starlette.websockets import WebSocketState

import settings
from phone.rest import TwilioRequestError, twilio_api, with_timeout

TWILIO_SAMPLE_RATE = 8000
FRAME_BYTES = TWILIO_SAMPLE_RATE * 2 // 50  # 20 ms of 16-bit audio, the size of Twilio's own frames
# Twilio sends `start` right after `connected`; pipecat's own handshake would wait forever.
HANDSHAKE_TIMEOUT_SECS = 5
# Twilio's messages are well under 1 KB: a larger one is dropped unread, never parsed or logged.
MAX_MESSAGE_CHARS = 64 * 1024
# What Twilio sends on a stream besides `start`, which comes once.
CALL_EVENTS = {"connected", "media", "dtmf", "mark", "stop"}


class TwilioStreamError(RuntimeError):
    """This stream cannot become a call: it did not open like a Twilio Media Stream, or a setting is unset."""


class IgnoredMessage(Exception):
    """A message Twilio would not send; `kind` names what it is, the same for all alike."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}{detail}")
        self.kind = kind


def twilio_message(data: str | bytes) -> dict:
    """One Media Streams message, parsed; raises IgnoredMessage for anything Twilio would not send."""
    if isinstance(data, bytes):
        raise IgnoredMessage("a binary frame", f" ({len(data)} bytes)")
    if len(data) > MAX_MESSAGE_CHARS:
        raise IgnoredMessage("an oversized message", f" ({len(data)} characters)")
    try:
        message = json.loads(data)
    except ValueError:
        raise IgnoredMessage("a message that is not JSON", f" ({len(data)} characters)") from None
    if not isinstance(message, dict) or not isinstance(message.get("event"), str):
        raise IgnoredMessage("a message without an event")
    return message


def event_name(message: dict) -> str:
    """The event, quoted and cut short for a log line: it comes off the network."""
    return repr(message["event"][:40])


class CallSerializer(TwilioFrameSerializer):
    """Pipecat's Twilio serializer, made safe for a live phone call.

    It ignores a message Twilio would not send (binary, oversized, not JSON, another stream's, a
    second `start`, an unknown event, a media payload that is not base64) instead of ending the call:
    pipecat's serializer raises on some, the transport takes that as the caller leaving, and auto
    hang-up would then end the call. It logs the first of each kind. And it can leave the call up
    when the pipeline ends.
    """

    _keep_call_alive = False

    def __init__(self, *, stream_sid: str, call_sid: str, **kwargs) -> None:
        super().__init__(stream_sid=stream_sid, call_sid=call_sid, **kwargs)
        self._stream = stream_sid
        self._call = call_sid
        self._ignored: Counter[str] = Counter()

    def keep_call_alive(self) -> None:
        """The call now belongs to other TwiML (a transfer): ending the pipeline must not hang it up."""
        self._keep_call_alive = True

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if self._keep_call_alive and isinstance(frame, (EndFrame, CancelFrame)):
            return None
        return await super().serialize(frame)

    async def _hang_up_call(self) -> None:
        """Hangs up through phone.rest, within TWILIO_API_TIMEOUT_SECS: the stream closes only after this.

        pipecat's own request (the method this replaces) waits up to aiohttp's five minutes, and logs a
        failure as an ERROR.
        """
        try:
            async with twilio_api() as client:
                await with_timeout(client.calls(self._call_sid).update_async(status="completed"))
        except TwilioRequestError as error:
            if error.status != 404:  # 404: the call had already ended
                logger.warning(f"Call {self._call_sid}: the hang-up failed ({error}); the stream closes")
            return
        logger.info(f"Call {self._call_sid}: hung up through Twilio's REST API")

    async def deserialize(self, data: str | bytes) -> Frame | None:
        try:
            message = twilio_message(data)
            if message.get("streamSid", self._stream) != self._stream:
                raise IgnoredMessage("a message for another stream", f" ({event_name(message)})")
            if message["event"] == "start":
                raise IgnoredMessage("a second 'start' message")
            if message["event"] not in CALL_EVENTS:
                raise IgnoredMessage("an unknown event", f" ({event_name(message)})")
            try:
                return await super().deserialize(data)
            except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, AttributeError) as error:
                detail = f" ({event_name(message)}: {type(error).__name__}: {error})"
                raise IgnoredMessage("a malformed message", detail) from None
        except IgnoredMessage as ignored:
            self._ignore(ignored)
            return None

    def _ignore(self, ignored: IgnoredMessage) -> None:
        """Logs the first of each kind: a line flooding bad frames must not flood the log."""
        self._ignored[ignored.kind] += 1
        if self._ignored[ignored.kind] == 1:
            logger.warning(f"Call {self._call}: ignoring {ignored} from Twilio, and any more like it")


class EndedBy(StrEnum):
    """Who or what ended a call, as its report says."""

    CALLER = "caller"  # the far end hung up (or the line dropped)
    BOT = "bot"  # the end_call tool
    TRANSFER = "transfer"
    VOICEMAIL = "voicemail"  # the bot left its message on an answering machine
    IDLE = "idle"  # the caller stayed silent after the check-in
    TIME_LIMIT = "time_limit"
    ERROR = "error"  # the providers failed, or the call ended for no reason above
    REFUSED = "refused"  # Twilio did not confirm the stream as a live call of this account


# The <Parameter> of a stream that brings a caller back from a transfer (call_control/transfer.py).
TRANSFER_RESULT = "transfer_result"
RETURNED = "returned"  # a <Dial> ended: Twilio's REST API says how
UNANSWERED = "unanswered"  # a warm transfer nobody took
CONFERENCE_ENDED = "conference_ended"  # a warm transfer's conversation is over


@dataclass
class TwilioCall:
    call_sid: str
    stream_sid: str
    websocket: WebSocket
    transport: FastAPIWebsocketTransport
    # The transport's parameters: read as the call starts, so features may still change them until then.
    transport_params: FastAPIWebsocketParams
    serializer: CallSerializer
    parameters: dict[str, str] = field(default_factory=dict)
    # Twilio's verdict on the CallSid (phone/caller_check.py): True once confirmed, False if refused.
    confirmation: asyncio.Future[bool] | None = None
    ended_by: EndedBy | None = None
    # A transfer request is on its way: Twilio closes the stream once it has moved the call.
    transferring: bool = False
    # The bot's speech is held back on purpose (a call it placed, until a person is known to have
    # answered): nothing the caller hears is late meanwhile.
    speech_held: bool = False
    # What the bot found wrong during the call (a provider that failed it), for the call report.
    errors: list[str] = field(default_factory=list)

    def ends_as(self, cause: EndedBy) -> None:
        """Records why the call ends: the first cause wins."""
        if cause == EndedBy.CALLER and self.transferring:
            cause = EndedBy.TRANSFER
        if self.ended_by is None:
            self.ended_by = cause

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
    def is_back_from_transfer(self) -> bool:
        """A transfer ended and Twilio brought the caller back: this is the call's second stream, or later."""
        return self.parameters.get(TRANSFER_RESULT) in (RETURNED, UNANSWERED, CONFERENCE_ENDED)

    @property
    def is_outbound(self) -> bool:
        """The bot placed this call (its TwiML says direction=outbound)."""
        return self.parameters.get("direction") == "outbound"


async def accept_twilio_call(websocket: WebSocket) -> TwilioCall:
    """Reads the stream's opening messages and builds the transport for this call.

    A stream that cannot become a call is closed, and TwilioStreamError says why; no REST request
    is made for it.
    """
    ignored: Counter[str] = Counter()  # what came before `start`, other than `connected`
    try:
        settings.twilio_credentials()  # a missing one stops the call here, with the line that names it
        start = await read_start(websocket, ignored)
        call_sid, stream_sid, parameters = started_call(start)
    except (TwilioStreamError, settings.MissingSetting) as error:
        await close_stream(websocket)
        raise TwilioStreamError(f"{error}{listed(ignored)}") from None
    if ignored:
        logger.warning(f"Call {call_sid}: Twilio's 'start' came after other messages{listed(ignored)}")
    return open_call(websocket, call_sid, stream_sid, parameters)


async def read_start(websocket: WebSocket, ignored: Counter[str]) -> dict:
    """Waits for the `start` message, counting in `ignored` what comes before it."""
    try:
        async with asyncio.timeout(HANDSHAKE_TIMEOUT_SECS):
            while True:
                received = await websocket.receive()
                if received["type"] == "websocket.disconnect":
                    raise TwilioStreamError("the stream closed before its 'start' message")
                text = received.get("text")
                try:
                    message = twilio_message(received.get("bytes", b"") if text is None else text)
                except IgnoredMessage as problem:
                    ignored[problem.kind] += 1
                    continue
                if message["event"] == "start":
                    return message
                if message["event"] != "connected":
                    ignored[f"{event_name(message)} message"] += 1
    except TimeoutError:
        raise TwilioStreamError(f"no 'start' message within {HANDSHAKE_TIMEOUT_SECS} s") from None


def listed(ignored: Counter[str]) -> str:
    if not ignored:
        return ""
    return "; ignored before it: " + ", ".join(f"{kind} x{count}" for kind, count in ignored.items())


def started_call(start: dict) -> tuple[str, str, dict[str, str]]:
    """The CallSid, StreamSid and `<Parameter>` values of a `start` message."""
    details = start.get("start")
    if not isinstance(details, dict):
        raise TwilioStreamError("the 'start' message has no 'start' object")
    call_sid, stream_sid = details.get("callSid"), details.get("streamSid") or start.get("streamSid")
    if not (isinstance(call_sid, str) and call_sid and isinstance(stream_sid, str) and stream_sid):
        raise TwilioStreamError("the 'start' message names no callSid and streamSid")
    parameters = details.get("customParameters") or {}
    if not isinstance(parameters, dict):
        raise TwilioStreamError("the 'start' message's customParameters is not an object")
    return call_sid, stream_sid, {str(name): str(value) for name, value in parameters.items()}


async def close_stream(websocket: WebSocket) -> None:
    """Closes a stream that will not become a call, unless the caller has already gone."""
    if websocket.client_state != WebSocketState.CONNECTED:
        return
    try:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION)
    except WebSocketDisconnect:
        pass  # gone meanwhile


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
    params = FastAPIWebsocketParams(
        audio_in_enabled=True,
        audio_out_enabled=True,
        add_wav_header=False,
        serializer=serializer,
    )
    transport = FastAPIWebsocketTransport(websocket=websocket, params=params)
    return TwilioCall(call_sid, stream_sid, websocket, transport, params, serializer, parameters)


async def send_audio_now(call: TwilioCall, pcm: bytes) -> None:
    """Sends 8 kHz 16-bit audio straight to Twilio, which plays it in order and drops it on `clear`."""
    try:
        for start in range(0, len(pcm), FRAME_BYTES):
            frame = OutputAudioRawFrame(pcm[start : start + FRAME_BYTES], TWILIO_SAMPLE_RATE, 1)
            await call.websocket.send_text(await call.serializer.serialize(frame))
    except WebSocketDisconnect:
        pass  # the caller hung up: the transport sees it too, and the call ends there
