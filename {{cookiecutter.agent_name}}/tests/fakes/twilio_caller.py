"""A fake Twilio caller: speaks the Media Streams protocol over a real WebSocket, like Twilio does.

It sends `connected` and `start`, paces 20 ms μ-law `media` frames in real time, sends `dtmf` and
`stop`, echoes the `mark`s the bot sends, and records every message from the bot with the time it
arrived.
"""

import asyncio
import audioop
import base64
import json
import time
from dataclasses import dataclass, field

import websockets

FRAME_SECONDS = 0.02
SAMPLE_RATE = 8000
SAMPLES_PER_FRAME = int(SAMPLE_RATE * FRAME_SECONDS)


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
    received: list[Received] = field(default_factory=list)
    started_at: float = 0.0
    _sequence: int = 0
    _chunk: int = 0

    async def __aenter__(self) -> "FakeTwilioCaller":
        self._socket = await websockets.connect(self.url, max_size=None)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *_exc) -> None:
        await self._socket.close()
        self._reader.cancel()

    async def send(self, message: dict | str | bytes) -> None:
        await self._socket.send(message if isinstance(message, str | bytes) else json.dumps(message))

    def _next_sequence(self) -> str:
        self._sequence += 1
        return str(self._sequence)

    async def start(self) -> None:
        await self.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        self.started_at = time.monotonic()
        await self.send(
            {
                "event": "start",
                "sequenceNumber": self._next_sequence(),
                "streamSid": self.stream_sid,
                "start": {
                    "accountSid": self.account_sid,
                    "streamSid": self.stream_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "customParameters": self.parameters,
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": SAMPLE_RATE, "channels": 1},
                },
            }
        )

    async def send_pcm(self, pcm16: bytes) -> None:
        """Sends 8 kHz 16-bit mono PCM as μ-law media frames, paced like a live phone line."""
        frame_bytes = SAMPLES_PER_FRAME * 2
        next_send = time.monotonic()
        for offset in range(0, len(pcm16), frame_bytes):
            chunk = pcm16[offset : offset + frame_bytes].ljust(frame_bytes, b"\0")
            self._chunk += 1
            await self.send(
                {
                    "event": "media",
                    "sequenceNumber": self._next_sequence(),
                    "streamSid": self.stream_sid,
                    "media": {
                        "track": "inbound",
                        "chunk": str(self._chunk),
                        "timestamp": str(int(self._chunk * FRAME_SECONDS * 1000)),
                        "payload": base64.b64encode(audioop.lin2ulaw(chunk, 2)).decode(),
                    },
                }
            )
            next_send += FRAME_SECONDS
            await asyncio.sleep(max(0.0, next_send - time.monotonic()))

    async def send_silence(self, seconds: float) -> None:
        await self.send_pcm(b"\0\0" * int(SAMPLE_RATE * seconds))

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
        await self.send(
            {
                "event": "stop",
                "sequenceNumber": self._next_sequence(),
                "streamSid": self.stream_sid,
                "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
            }
        )
        await self._socket.close()

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

    def events(self, name: str) -> list[Received]:
        return [item for item in self.received if item.message.get("event") == name]

    def bot_audio(self) -> bytes:
        """Everything the bot said, as 8 kHz 16-bit PCM."""
        ulaw = b"".join(base64.b64decode(item.message["media"]["payload"]) for item in self.events("media"))
        return audioop.ulaw2lin(ulaw, 2)

    async def wait_for(self, name: str, count: int = 1, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.events(name)) < count:
            if time.monotonic() > deadline:
                seen = sorted({item.message.get("event") for item in self.received})
                raise TimeoutError(
                    f"no {count} {name!r} message(s) from the bot within {timeout}s (saw {seen})"
                )
            await asyncio.sleep(0.01)
        return self.events(name)

    async def wait_closed(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self._socket.wait_closed(), timeout)
