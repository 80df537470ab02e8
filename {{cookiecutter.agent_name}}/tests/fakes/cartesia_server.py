"""A fake Cartesia TTS WebSocket: answers each transcript with PCM audio chunks, then `done`."""

import base64
import json
import math
import struct

from aiohttp import WSMsgType, web

SECONDS_PER_CHARACTER = 0.03


def tone(seconds: float, sample_rate: int, frequency: float = 440.0) -> bytes:
    """A quiet sine tone standing in for speech: clearly audible, cheap to make."""
    count = int(seconds * sample_rate)
    return b"".join(
        struct.pack("<h", int(6000 * math.sin(2 * math.pi * frequency * i / sample_rate)))
        for i in range(count)
    )


class FakeCartesia:
    def __init__(self) -> None:
        self.transcripts: list[str] = []
        self.app = web.Application()
        self.app.router.add_get("/tts/websocket", self.tts)

    async def tts(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            request_body = json.loads(message.data)
            context_id = request_body.get("context_id", "")
            text = request_body.get("transcript", "")
            if text.strip():
                self.transcripts.append(text)
                sample_rate = request_body.get("output_format", {}).get("sample_rate", 8000)
                audio = tone(max(0.2, len(text) * SECONDS_PER_CHARACTER), sample_rate)
                await socket.send_json(
                    {
                        "type": "chunk",
                        "context_id": context_id,
                        "data": base64.b64encode(audio).decode(),
                        "done": False,
                    }
                )
            if request_body.get("continue") is False:
                await socket.send_json({"type": "done", "context_id": context_id, "done": True})
        return socket
