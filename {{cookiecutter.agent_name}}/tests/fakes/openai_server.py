"""A fake OpenAI-compatible API: streamed chat completions (SSE) and a record of every request."""

import json
import time

from aiohttp import web

DEFAULT_REPLY = "Hello, thanks for calling. How can I help you today?"


class FakeOpenAI:
    def __init__(self, reply: str = DEFAULT_REPLY) -> None:
        self.reply = reply
        self.chat_requests: list[dict] = []
        self.app = web.Application()
        self.app.router.add_post("/v1/chat/completions", self.chat_completions)

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.chat_requests.append(body)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        words = self.reply.split(" ")
        deltas = [{"role": "assistant", "content": ""}] + [
            {"content": word if i == 0 else " " + word} for i, word in enumerate(words)
        ]
        for delta in deltas:
            await self._event(response, body, {"index": 0, "delta": delta, "finish_reason": None})
        await self._event(response, body, {"index": 0, "delta": {}, "finish_reason": "stop"})
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    @staticmethod
    async def _event(response: web.StreamResponse, body: dict, choice: dict) -> None:
        chunk = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [choice],
        }
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

    def user_messages(self) -> list[str]:
        """Every user message text the LLM was sent, in order, without repeats."""
        seen: list[str] = []
        for request in self.chat_requests:
            for message in request.get("messages", []):
                content = message.get("content")
                if message.get("role") == "user" and isinstance(content, str) and content not in seen:
                    seen.append(content)
        return seen
