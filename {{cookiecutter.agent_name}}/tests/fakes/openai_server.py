"""A fake OpenAI-compatible API: streamed chat completions (SSE) with scripted text or tool calls,
audio speech (PCM) and audio transcriptions, plus injected failures and a record of every request.

A request that is not streamed (a transfer's summary) gets one whole completion. One with a JSON schema
for its reply (pipecat's LLMClassifier, as the voicemail detector asks whether a person answered) gets
one JSON object of that shape; it chooses as an LLM would for the phrases the tests speak: a recorded
greeting's words make it a voicemail.

Failures: `failure` for chat completions (an error status, a late answer, or a stream whose first
token is late); `speech_down` (503) and `speech_cut_after_secs` (the connection drops mid-audio) for
speech; `transcription_fault` "hang" (no answer) or "drop" (connections close for a few seconds,
the SDK's retries included) for transcriptions.
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
# Words of a recorded greeting; anything else a callee says is a person answering.
MACHINE_GREETING_WORDS = ("you have reached", "leave a message", "not available", "after the tone")
# How long a dropped transcription endpoint stays down: longer than the openai SDK's two retries take.
TRANSCRIPTION_DROP_SECS = 3.0


@dataclass
class ToolCall:
    name: str
    arguments: dict = field(default_factory=dict)


@dataclass
class Failure:
    """How every chat request fails while it is set: after `delay`, an HTTP `status` (None: answer).

    With `stream_first`, the answer's event stream opens at once and its first token comes `delay` later.
    """

    status: int | None = 500
    delay: float = 0.0
    stream_first: bool = False


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
        self.speech_cut_after_secs: float | None = None
        self.speech_real_time = False  # the audio arrives as fast as it plays, as on a slow line
        self.transcription_fault: str | None = None  # "hang" or "drop"
        self.speech_requested: list[tuple[float, str]] = []  # (when, text) of every speech request
        self.speech_cuts: list[float] = []  # when it dropped a speech connection mid-audio
        self.transcription_drops: list[float] = []  # when it began dropping transcription requests
        self.transcripts: list[str] = []
        self.chat_requests: list[dict] = []
        self.classifications: list[tuple[str, str]] = []  # (the input, the choice) of each classifier request
        self.speech_inputs: list[str] = []

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if "response_format" not in body:
            self.chat_requests.append(body)
        failure = self.failure
        if failure and not failure.stream_first:
            await asyncio.sleep(failure.delay)
            if self.failure and failure.status:
                error = {"error": {"message": "injected failure", "type": "server_error"}}
                return web.json_response(error, status=failure.status)
        if "response_format" in body:
            return web.json_response(self.completion(body, json.dumps(self.classify(body))))
        reply = self.reply_to(body.get("messages", []))
        if not body.get("stream"):  # a one-shot request out of the pipeline, such as a transfer's summary
            return web.json_response(self.completion(body, str(reply)))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if failure and failure.stream_first:
            await self._event(response, body, {"role": "assistant", "content": ""})
            await asyncio.sleep(failure.delay)
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

    def classify(self, body: dict) -> dict:
        """An answer of the requested schema's shape: per choice question, the option the input calls for."""
        # LLMClassifier writes "Input:\n<what was heard>\n\nQuestion ...", the options' own words after it.
        said = body["messages"][-1]["content"].removeprefix("Input:\n").split("\n\nQuestion ")[0]
        text = said.lower()
        verdict = "voicemail" if any(words in text for words in MACHINE_GREETING_WORDS) else "conversation"
        answers = {}
        for name, question in body["response_format"]["json_schema"]["schema"]["properties"].items():
            options = question["properties"]["choice"]["enum"]
            choice = verdict if verdict in options else options[0]
            answers[name] = {"choice": choice, "probabilities": {o: float(o == choice) for o in options}}
            self.classifications.append((said, choice))
        return answers

    @staticmethod
    def completion(body: dict, content: str) -> dict:
        """A whole chat completion, as the API answers a request that is not streamed."""
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70},
        }

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
        self.speech_requested.append((time.monotonic(), body.get("input", "")))
        if self.speech_down:
            return web.json_response({"error": {"message": "injected outage"}}, status=503)
        await asyncio.sleep(self.speech_delay)
        self.speech_inputs.append(body.get("input", ""))
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        audio = tone(max(0.2, len(body.get("input", "")) * 0.03), SPEECH_SAMPLE_RATE)
        if self.speech_cut_after_secs is not None:
            cut_at = int(self.speech_cut_after_secs * SPEECH_SAMPLE_RATE) * 2
            self.speech_cut_after_secs = None  # once: the next request works
            chunk_bytes = SPEECH_SAMPLE_RATE // 10 * 2
            for start in range(0, cut_at, chunk_bytes):
                await response.write(audio[start : min(start + chunk_bytes, cut_at)])
                if self.speech_real_time:
                    await asyncio.sleep(0.1)
            self.speech_cuts.append(time.monotonic())
            request.transport.close()  # mid-body: the client sees the connection drop
            return response
        await response.write(audio)
        await response.write_eof()
        return response

    async def transcriptions(self, request: web.Request) -> web.Response:
        if self.transcription_fault == "hang":
            await asyncio.sleep(3600)
        form = await request.post()
        if self.transcription_fault == "drop":
            if not self.transcription_drops:
                self.transcription_drops.append(time.monotonic())
                if self.transcripts:
                    self.transcripts.pop(0)  # what the caller said went with the connection
            if time.monotonic() - self.transcription_drops[0] < TRANSCRIPTION_DROP_SECS:
                request.transport.close()
                return web.Response()
            self.transcription_fault = None  # back up
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
