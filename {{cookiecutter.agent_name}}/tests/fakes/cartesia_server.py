"""A fake Cartesia TTS WebSocket: answers each transcript with PCM audio chunks, then `done`.

Like Cartesia, it streams a transcript's audio in 100 ms chunks, faster than real time (`real_time`
paces them as a slow line would). Failures:
`drop_next` closes the connection on the next transcripts instead of answering, like an outage;
`cut_after_secs` closes it with `cut_code` (1011, Cartesia's internal error) once that much audio
of one context has gone out, in the middle of a reply; `delay` holds each answer back, like a slow
provider.
"""

import asyncio
import base64
import json
import time

from aiohttp import WSCloseCode, WSMsgType, web

from tests.fakes.audio import tone

SECONDS_PER_CHARACTER = 0.03
CHUNK_SECONDS = 0.1


class FakeCartesia:
    def __init__(self) -> None:
        self.reset()
        self.app = web.Application()
        self.app.router.add_get("/tts/websocket", self.tts)

    def reset(self) -> None:
        self.transcripts: list[str] = []  # the texts it answered with audio
        self.requested: list[tuple[float, str]] = []  # (when, text) of every transcript it was sent
        self.cuts: list[float] = []  # when it cut a connection mid-reply
        self.drop_next = 0
        self.cut_after_secs: float | None = None
        self.cut_code = WSCloseCode.INTERNAL_ERROR
        self.delay = 0.0
        self.real_time = False

    async def tts(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        sent_secs: dict[str, float] = {}  # audio sent per context on this connection
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            request_body = json.loads(message.data)
            context_id = request_body.get("context_id", "")
            text = request_body.get("transcript", "")
            if text.strip():
                self.requested.append((time.monotonic(), text))
                await asyncio.sleep(self.delay)
                if self.drop_next:
                    self.drop_next -= 1
                    await socket.close()
                    break
                self.transcripts.append(text)
                sample_rate = request_body.get("output_format", {}).get("sample_rate", 8000)
                audio = tone(max(0.2, len(text) * SECONDS_PER_CHARACTER), sample_rate)
                chunk_bytes = int(CHUNK_SECONDS * sample_rate) * 2
                for start in range(0, len(audio), chunk_bytes):
                    cut_after = self.cut_after_secs
                    if cut_after is not None and sent_secs.get(context_id, 0.0) >= cut_after:
                        self.cut_after_secs = None  # once: the next connection works
                        self.cuts.append(time.monotonic())
                        await socket.close(code=self.cut_code, message=b"internal error")
                        return socket
                    chunk = audio[start : start + chunk_bytes]
                    sent_secs[context_id] = sent_secs.get(context_id, 0.0) + len(chunk) / 2 / sample_rate
                    message_body = {"type": "chunk", "context_id": context_id, "done": False}
                    await socket.send_json({**message_body, "data": base64.b64encode(chunk).decode()})
                    if self.real_time:
                        await asyncio.sleep(CHUNK_SECONDS)
            if request_body.get("continue") is False:
                await socket.send_json({"type": "done", "context_id": context_id, "done": True})
        return socket
