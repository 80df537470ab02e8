"""A fake OpenAI-compatible API: streamed chat completions (SSE) with scripted text or tool calls,
audio speech (PCM) and audio transcriptions, plus injected failures and a record of every request.
"""

import asyncio
import io
import json
import time
import wave
from dataclasses import dataclass, field

from aiohttp import web

from tests.fakes.audio import has_speech, tone

DEFAULT_REPLY = "Sure, I can help with that."
SPEECH_SAMPLE_RATE = 24000  # OpenAI's speech endpoint always answers with 24 kHz PCM.


@dataclass
class ToolCall:
    name: str
    arguments: dict = field(default_factory=dict)


@dataclass
class Failure:
    """How every chat request fails while it is set: after `delay`, an HTTP `status` (None: answer)."""

    status: int | None = 500
    delay: float = 0.0


class FakeOpenAI:
    def __init__(self) -> None:
        self.reset()
        self.app = web.Application()
        self.app.router.add_post("/v1/chat/completions", self.chat_completions)
        self.app.router.add_post("/v1/audio/speech", self.speech)
        self.app.router.add_post("/v1/audio/transcriptions", self.transcriptions)

    def reset(self) -> None:
        """No script, no failure, nothing recorded."""
        # Replies keyed by what the caller last said, so a straggling request from an earlier call
        # cannot take another call's scripted reply.
        self.answers: dict[str, str | ToolCall] = {}
        self.default_reply = DEFAULT_REPLY
        self.failure: Failure | None = None
        self.speech_down = False
        self.speech_delay = 0.0
        self.transcripts: list[str] = []
        self.chat_requests: list[dict] = []
        self.speech_inputs: list[str] = []

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.chat_requests.append(body)
        if self.failure:
            await asyncio.sleep(self.failure.delay)
            if self.failure and self.failure.status:
                error = {"error": {"message": "injected failure", "type": "server_error"}}
                return web.json_response(error, status=self.failure.status)
        reply = self.reply_to(body.get("messages", []))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if isinstance(reply, ToolCall):
            call = {"index": 0, "id": f"call_{len(self.chat_requests)}", "type": "function"}
            arguments = json.dumps(reply.arguments)
            await self._event(
                response, body, {"tool_calls": [{**call, "function": {"name": reply.name, "arguments": ""}}]}
            )
            await self._event(
                response, body, {"tool_calls": [{"index": 0, "function": {"arguments": arguments}}]}
            )
            await self._event(response, body, {}, finish_reason="tool_calls")
        else:
            words = reply.split(" ")
            await self._event(response, body, {"role": "assistant", "content": ""})
            for i, word in enumerate(words):
                await self._event(response, body, {"content": word if i == 0 else " " + word})
            await self._event(response, body, {}, finish_reason="stop")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    def reply_to(self, messages: list[dict]) -> str | ToolCall:
        said = [
            m.get("content")
            for m in messages
            if m.get("role") == "user" and isinstance(m.get("content"), str)
        ]
        return self.answers.get(said[-1], self.default_reply) if said else self.default_reply

    @staticmethod
    async def _event(response: web.StreamResponse, body: dict, delta: dict, finish_reason=None) -> None:
        chunk = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

    async def speech(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if self.speech_down:
            return web.json_response({"error": {"message": "injected outage"}}, status=503)
        await asyncio.sleep(self.speech_delay)
        self.speech_inputs.append(body.get("input", ""))
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        await response.write(tone(max(0.2, len(body.get("input", "")) * 0.03), SPEECH_SAMPLE_RATE))
        await response.write_eof()
        return response

    async def transcriptions(self, request: web.Request) -> web.Response:
        form = await request.post()
        with wave.open(io.BytesIO(form["file"].file.read())) as recording:
            pcm = recording.readframes(recording.getnframes())
        text = self.transcripts.pop(0) if has_speech(pcm) and self.transcripts else ""
        return web.json_response({"text": text})

    def user_messages(self) -> list[str]:
        """Every user message text the LLM was sent, in order, without repeats."""
        seen: list[str] = []
        for request in self.chat_requests:
            for message in request.get("messages", []):
                content = message.get("content")
                if message.get("role") == "user" and isinstance(content, str) and content not in seen:
                    seen.append(content)
        return seen

    def tool_results(self) -> list[dict]:
        return [
            message
            for request in self.chat_requests
            for message in request.get("messages", [])
            if message.get("role") == "tool"
        ]
