"""A fake Twilio caller: speaks the Media Streams protocol over a real WebSocket, like Twilio does.

It sends `connected` and `start`, then streams 20 ms μ-law `media` frames in real time, as a phone
line does: silence, or speech queued with `say()`. It sends `dtmf` and `stop`, echoes the `mark`s
the bot sends, and records every message from the bot with the time it arrived. `drop()` and
`abort()` cut the line without a `stop`, with a close frame or a TCP reset; `start_and_cut()` cuts
it in the same write as the stream's opening.
"""

import asyncio
import base64
import json
import socket
import struct
import time
import warnings
import wave
from dataclasses import dataclass, field
from pathlib import Path

import websockets

from tests.fakes.audio import has_speech

with warnings.catch_warnings():
    # Deprecated in the standard library, but pipecat needs it too (audioop-lts from Python 3.13).
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

FRAME_SECONDS = 0.02
SAMPLE_RATE = 8000
FRAME_BYTES = int(SAMPLE_RATE * FRAME_SECONDS) * 2  # 16-bit PCM before μ-law encoding


def read_wav(path: Path) -> bytes:
    """8 kHz 16-bit mono PCM from a WAV file in that format."""
    with wave.open(str(path)) as recording:
        if (recording.getframerate(), recording.getsampwidth(), recording.getnchannels()) != (
            SAMPLE_RATE,
            2,
            1,
        ):
            raise ValueError(f"{path} must be 8 kHz 16-bit mono (sox in.wav -r 8000 -b 16 -c 1 out.wav)")
        return recording.readframes(recording.getnframes())


def to_line_rate(pcm16: bytes, sample_rate: int) -> bytes:
    """16-bit mono PCM resampled to the phone line's 8 kHz."""
    return audioop.ratecv(pcm16, 2, 1, sample_rate, SAMPLE_RATE, None)[0]


def to_line_audio(pcm16: bytes) -> bytes:
    """8 kHz PCM as the other end hears it after μ-law encoding on the line."""
    return audioop.ulaw2lin(audioop.lin2ulaw(pcm16, 2), 2)


def media_pcm(message: dict) -> bytes:
    """The 8 kHz 16-bit PCM inside a `media` message."""
    return audioop.ulaw2lin(base64.b64decode(message["media"]["payload"]), 2)


@dataclass
class Received:
    at: float
    message: dict


@dataclass
class FakeTwilioCaller:
    url: str
    account_sid: str = "AC" + "0" * 32
    call_sid: str = "CA" + "1" * 32
    stream_sid: str = "MZ" + "2" * 32
    parameters: dict[str, str] = field(default_factory=dict)
    # Extra HTTP headers on the WebSocket upgrade, such as Twilio's X-Twilio-Signature.
    headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list, repr=False)  # thousands of frames
    started_at: float = 0.0

    async def __aenter__(self) -> "FakeTwilioCaller":
        self._socket = await websockets.connect(self.url, max_size=None, additional_headers=self.headers)
        self._reader = asyncio.create_task(self._read())
        self._pump: asyncio.Task | None = None
        self._outgoing = bytearray()
        self._drained = asyncio.Event()
        self._last_voiced_at = 0.0
        self._sequence = 0
        return self

    async def __aexit__(self, *_exc) -> None:
        if self._pump:
            self._pump.cancel()
        await self._socket.close()
        self._reader.cancel()

    async def send(self, message: dict | str | bytes) -> None:
        raw = message if isinstance(message, str | bytes) else json.dumps(message)
        try:
            await self._socket.send(raw)
        except websockets.ConnectionClosed:
            pass  # The bot hung up; a real line goes quiet too.

    def _next_sequence(self) -> str:
        self._sequence += 1
        return str(self._sequence)

    def opening(self) -> list[dict]:
        """The two messages Twilio opens a stream with: `connected`, then `start`."""
        start = {
            "accountSid": self.account_sid,
            "streamSid": self.stream_sid,
            "callSid": self.call_sid,
            "tracks": ["inbound"],
            "customParameters": self.parameters,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": SAMPLE_RATE, "channels": 1},
        }
        return [
            {"event": "connected", "protocol": "Call", "version": "1.0.0"},
            {
                "event": "start",
                "sequenceNumber": self._next_sequence(),
                "streamSid": self.stream_sid,
                "start": start,
            },
        ]

    async def start(self) -> None:
        """Opens the stream like Twilio, then keeps the line's audio flowing until hang-up."""
        self.started_at = time.monotonic()
        for message in self.opening():
            await self.send(message)
        self._pump = asyncio.create_task(self._stream_line_audio())

    async def say(self, pcm16: bytes) -> float:
        """Speaks 8 kHz 16-bit PCM into the call; returns when its last voiced frame was sent.

        A recording's trailing silence is not speech: the caller stopped talking before it.
        """
        self._drained.clear()
        self._outgoing.extend(pcm16)
        await self._drained.wait()
        return self._last_voiced_at

    async def _stream_line_audio(self) -> None:
        chunk_number = 0
        next_send = time.monotonic()
        while True:
            chunk = bytes(self._outgoing[:FRAME_BYTES]).ljust(FRAME_BYTES, b"\0")
            del self._outgoing[:FRAME_BYTES]
            if not self._outgoing:
                self._drained.set()
            if has_speech(chunk):
                self._last_voiced_at = time.monotonic()
            chunk_number += 1
            await self.send(
                {
                    "event": "media",
                    "sequenceNumber": self._next_sequence(),
                    "streamSid": self.stream_sid,
                    "media": {
                        "track": "inbound",
                        "chunk": str(chunk_number),
                        "timestamp": str(int(chunk_number * FRAME_SECONDS * 1000)),
                        "payload": base64.b64encode(audioop.lin2ulaw(chunk, 2)).decode(),
                    },
                }
            )
            next_send += FRAME_SECONDS
            await asyncio.sleep(max(0.0, next_send - time.monotonic()))

    async def press(self, digit: str) -> None:
        await self.send(
            {
                "event": "dtmf",
                "streamSid": self.stream_sid,
                "sequenceNumber": self._next_sequence(),
                "dtmf": {"track": "inbound_track", "digit": digit},
            }
        )

    async def hang_up(self) -> None:
        if self._pump:
            self._pump.cancel()
        await self.send(
            {
                "event": "stop",
                "sequenceNumber": self._next_sequence(),
                "streamSid": self.stream_sid,
                "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
            }
        )
        await self._socket.close()

    async def drop(self) -> None:
        """The line goes dead with a WebSocket close but no `stop`, as when Twilio's media server fails."""
        if self._pump:
            self._pump.cancel()
        await self._socket.close()

    async def abort(self) -> None:
        """The TCP connection is reset: no `stop`, no close frame, as when a network path dies."""
        if self._pump:
            self._pump.cancel()
        self._reset()

    def _reset(self) -> None:
        # A zero linger turns the close into a RST instead of a FIN.
        connection = self._socket.transport.get_extra_info("socket")
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._socket.transport.abort()

    def start_and_cut(self, kind: str) -> None:
        """Opens the stream and cuts the line (`close` or `reset`) in one write, before the bot answers."""
        self.started_at = time.monotonic()
        protocol = self._socket.protocol
        for message in self.opening():
            protocol.send_text(json.dumps(message).encode())
        if kind == "close":
            protocol.send_close()
        self._socket.transport.write(b"".join(protocol.data_to_send()))
        if kind == "reset":
            self._reset()

    async def _read(self) -> None:
        try:
            async for raw in self._socket:
                message = json.loads(raw)
                self.received.append(Received(time.monotonic(), message))
                if message.get("event") == "mark":
                    # Twilio echoes a mark once the audio before it has played.
                    await self.send(
                        {"event": "mark", "streamSid": self.stream_sid, "mark": message.get("mark", {})}
                    )
        except websockets.ConnectionClosed:
            pass

    def events(self, name: str, after: float = 0.0) -> list[Received]:
        return [item for item in self.received if item.message.get("event") == name and item.at > after]

    def bot_audio(self) -> bytes:
        """Everything the bot said, as 8 kHz 16-bit PCM."""
        return b"".join(media_pcm(item.message) for item in self.events("media"))

    async def wait_for(
        self, name: str, count: int = 1, after: float = 0.0, timeout: float = 15.0
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.events(name, after)) < count:
            if time.monotonic() > deadline:
                seen = sorted({item.message.get("event") for item in self.received})
                raise TimeoutError(
                    f"no {count} {name!r} message(s) from the bot within {timeout}s (saw {seen})"
                )
            await asyncio.sleep(0.01)
        return self.events(name, after)

    async def wait_for_audio(self, seconds: float, timeout: float = 20.0) -> None:
        """Waits until the bot has sent `seconds` of audio in all (its frames vary in length)."""
        deadline = time.monotonic() + timeout
        while len(self.bot_audio()) < seconds * SAMPLE_RATE * 2:
            if time.monotonic() > deadline:
                heard = len(self.bot_audio()) / SAMPLE_RATE / 2
                raise TimeoutError(f"only {heard:.1f}s of bot audio within {timeout}s, expected {seconds}s")
            await asyncio.sleep(0.05)

    async def wait_for_quiet(self, seconds: float = 0.6, timeout: float = 20.0) -> float:
        """Waits until the bot has sent no audio for `seconds`: it finished speaking."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            media = self.events("media")
            if media and time.monotonic() - media[-1].at >= seconds:
                return media[-1].at
            await asyncio.sleep(0.05)
        raise TimeoutError(f"the bot did not stop talking within {timeout}s")

    @property
    def closed(self) -> bool:
        return self._socket.close_code is not None
