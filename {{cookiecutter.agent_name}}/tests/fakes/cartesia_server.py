"""A fake Cartesia TTS WebSocket: answers each transcript with PCM audio chunks, then `done`.

`drop_next` closes the connection on the next transcript instead, like a provider outage, and
`delay` holds each answer back, like a slow provider.
"""

import asyncio
import base64
import json

from aiohttp import WSMsgType, web

from tests.fakes.audio import tone

SECONDS_PER_CHARACTER = 0.03


class FakeCartesia:
    def __init__(self) -> None:
        self.reset()
        self.app = web.Application()
        self.app.router.add_get("/tts/websocket", self.tts)

    def reset(self) -> None:
        self.transcripts: list[str] = []
        self.drop_next = 0
        self.delay = 0.0

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
                await asyncio.sleep(self.delay)
                if self.drop_next:
                    self.drop_next -= 1
                    await socket.close()
                    break
                self.transcripts.append(text)
                sample_rate = request_body.get("output_format", {}).get("sample_rate", 8000)
                audio = tone(max(0.2, len(text) * SECONDS_PER_CHARACTER), sample_rate)
                chunk = {"type": "chunk", "context_id": context_id, "done": False}
                await socket.send_json({**chunk, "data": base64.b64encode(audio).decode()})
            if request_body.get("continue") is False:
                await socket.send_json({"type": "done", "context_id": context_id, "done": True})
        return socket
