"""A fake OpenAI Realtime API: the GA protocol's WebSocket at /v1/realtime?model=..., as pipecat's
OpenAIRealtimeLLMService speaks it, with scripted replies and a record of every client event.

It refuses a WebSocket without a bearer key (401), opens with `session.created`, and answers each
`session.update` with the whole session. It hears audio in the session's input format (`audio/pcm` at
24 kHz, or G.711 `audio/pcmu` or `audio/pcma` at 8 kHz). While turn detection is on (`server_vad` or
`semantic_vad`, the server's default) it runs a VAD as the real server does: `speech_started` when the
caller is heard, `speech_stopped` after `silence_duration_ms` (500 ms) of silence, the committed user
item, the next of `transcripts` in `conversation.item.input_audio_transcription.completed` when the
session asked for transcription, then a response. Without turn detection the client drives the turns:
`input_audio_buffer.commit`, `conversation.item.create` and `response.create`.

A response says the words an instruction asks for (`Say "Hello."`, or `Say exactly these words: Hello.`),
in its `response.create` or in a text item since the last response; else `answers[what the caller last
said]` (a transcript, or a user or system text item): a reply, or a ToolCall that makes it a function
call; else `default_reply`, or `greeting_reply` when nothing was said or answered since the last response.
With the chat fake as `script`, `answers` and `default_reply` are that fake's. After `delay` (the model's
latency) it speaks a tone as long as the text, in the session's output format, with the text as its
transcript. Speech that starts during a response cancels it (`interrupt_response`), as `response.cancel`
does; both are kept in `cancels`.

Failures: `down` refuses the WebSocket with 503. `malformed` is sent once, after the first audio of the
next reply: "not-json" (a text frame that is not JSON), "unknown-event" (an event type the API does not
have), "error" (a `server_error` event), or "close" (the connection drops with 1011).
"""

import asyncio
import base64
import binascii
import json
import re
import time
import uuid
import warnings
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, WSMsgType, web

from phrases import SAY_EXACTLY
from tests.fakes.audio import has_speech, tone
from tests.fakes.openai_server import DEFAULT_REPLY, FakeOpenAI, ToolCall

with warnings.catch_warnings():
    # Deprecated in the standard library, but pipecat needs it too (audioop-lts from Python 3.13).
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

GREETING_REPLY = "Hello, how can I help you today?"
MALFORMED_MODES = ("not-json", "unknown-event", "error", "close")
SECONDS_PER_CHARACTER = 0.03  # as long as the text-to-speech fakes speak
CHUNK_SECONDS = 0.1
# How long the model takes to start answering. With none, a function call can outrun the end of the caller's
# turn through pipecat's pipeline, and its result then never gets a response.
MODEL_LATENCY_SECS = 0.2
VAD_WINDOW_MS = 20
MIN_COMMIT_MS = 100  # the API refuses to commit less audio than this
# The audio formats the API takes: 16-bit PCM at 24 kHz, or G.711 at 8 kHz (decoded to PCM to be judged).
SAMPLE_RATES = {"audio/pcm": 24000, "audio/pcmu": 8000, "audio/pcma": 8000}
SAMPLE_BYTES = {"audio/pcm": 2, "audio/pcmu": 1, "audio/pcma": 1}
# An instruction to say words: `Say "Hello."`, or `Say exactly these words: Hello.`
# The agent's instruction for words the bot must say (phrases.SAY_EXACTLY): a model says them, as does this
# fake; and the `Say "..."` form, in a response.create's own instructions.
SAY_MARKER = SAY_EXACTLY.split("{words}")[0]
QUOTED_WORDS = re.compile(r"\bSay [\"“]([^\"”]+)[\"”]")
# The rest of a JSON string: pipecat packs a context of several messages into one item, as JSON.
JSON_STRING_REST = re.compile(r'((?:[^"\\]|\\.)*)"')
SERVER_VAD = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}


def words_to_say(text: str) -> str | None:
    """The words the last instruction in `text` asks the model to say, if it has one."""
    at = text.rfind(SAY_MARKER)
    if at < 0:
        quoted = QUOTED_WORDS.search(text)
        return quoted.group(1) if quoted else None
    rest = text[at + len(SAY_MARKER) :]
    packed = JSON_STRING_REST.match(rest)
    if packed and '"content": "' in text[:at]:  # inside one of the packed messages: to its closing quote
        return json.loads(f'"{packed.group(1)}"')
    return rest.strip()


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:21]}"


def default_session(model: str) -> dict:
    """The session a connection starts with, as `session.created` shows it."""
    pcm = {"type": "audio/pcm", "rate": 24000}
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": new_id("sess"),
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "You are a helpful, witty, and friendly AI.",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": int(time.time()) + 3600,
        "include": None,
        "audio": {
            "input": {
                "format": pcm,
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": SERVER_VAD,
            },
            "output": {"format": pcm, "voice": "marin", "speed": 1.0},
        },
    }


def updated_session(session: dict, changes: dict) -> dict:
    """A `session.update` replaces the fields it names; audio input and output merge field by field."""
    merged = {**session, **{key: value for key, value in changes.items() if key != "audio"}}
    audio = changes.get("audio") or {}
    merged["audio"] = {
        part: {**session["audio"][part], **(audio.get(part) or {})} for part in ("input", "output")
    }
    return merged


def decode(audio: bytes, kind: str) -> bytes:
    """16-bit PCM of audio in one of the API's formats."""
    if kind == "audio/pcmu":
        return audioop.ulaw2lin(audio, 2)
    if kind == "audio/pcma":
        return audioop.alaw2lin(audio, 2)
    return audio


def encode(pcm16: bytes, kind: str) -> bytes:
    if kind == "audio/pcmu":
        return audioop.lin2ulaw(pcm16, 2)
    if kind == "audio/pcma":
        return audioop.lin2alaw(pcm16, 2)
    return pcm16


def content_part(audio_out: bool, text: str) -> dict:
    return {"type": "audio", "transcript": text} if audio_out else {"type": "text", "text": text}


def usage(text: str) -> dict:
    output_tokens = max(1, len(text) // 4)
    return {
        "total_tokens": 120 + output_tokens,
        "input_tokens": 120,
        "output_tokens": output_tokens,
        "input_token_details": {
            "text_tokens": 100,
            "audio_tokens": 20,
            "image_tokens": 0,
            "cached_tokens": 0,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": output_tokens // 2, "audio_tokens": output_tokens},
    }


@dataclass
class ModelResponse:
    """A response while it streams."""

    id: str
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str = ""  # why it was cancelled: "turn_detected", "client_cancelled"

    async def wait(self, seconds: float) -> bool:
        """Waits `seconds`, or less if the response is cancelled meanwhile; True if it was."""
        if seconds <= 0:
            await asyncio.sleep(0)  # lets the client's events in between two deltas
        else:
            try:
                await asyncio.wait_for(self.cancelled.wait(), seconds)
            except TimeoutError:
                pass
        return self.cancelled.is_set()


class SpeechToSpeechFake:
    """What every speech-to-speech fake scripts and records, so that one test drives any of them."""

    def reset(self) -> None:
        """No script, no failure, nothing recorded."""
        # Replies keyed by what the caller last said, as the chat fake's are.
        self.answers: dict[str, str | ToolCall] = {}
        self.transcripts: list[str] = []  # what the caller says, one per utterance, in order
        self.default_reply = DEFAULT_REPLY
        self.greeting_reply = GREETING_REPLY
        self.real_time = False  # the audio arrives as fast as it plays, so that speech can cut a reply
        self.delay = MODEL_LATENCY_SECS  # before each response's first output
        self.transcription_delay = 0.0  # 0: each transcript comes before the response to it
        self.down = False
        self.malformed: str | None = None  # one of MALFORMED_MODES
        self.asked: list[tuple[float, str]] = []  # (when, words) of every instruction to say words
        self.heard: list[str] = []  # what the caller said (transcripts) and the texts sent, in order
        self.responses: list[tuple[float, str | ToolCall]] = []  # (when, reply) of every response
        self.connections: list[tuple[float, str]] = []  # (when, model) of each WebSocket
        self.received: list[tuple[float, dict]] = []  # (when, message) of every client message
        self.sessions: list[dict] = []  # every session set-up or update, as sent
        self.spoken: list[tuple[float, str]] = []  # (when it began, text) of every reply
        self.function_outputs: list[dict] = []  # every function result, as sent
        self.cancels: list[tuple[float, str]] = []  # (when, reason) of every cut response
        self.injected: list[tuple[float, str]] = []  # (when, mode) of every malformed message sent

    def take_malformed(self) -> str | None:
        """The malformed message asked for, once, recorded as sent."""
        mode, self.malformed = self.malformed, None
        if mode is not None:
            self.injected.append((time.monotonic(), mode))
        return mode


class FakeOpenAIRealtime(SpeechToSpeechFake):
    def __init__(self, script: FakeOpenAI | None = None) -> None:
        # With the chat fake as `script`, its `answers` and `default_reply` are the replies, so that one
        # fake scripts both pipelines.
        self.script = script
        self.reset()
        self.app = web.Application()
        self.app.router.add_get("/v1/realtime", self.realtime)

    def reset(self) -> None:
        super().reset()
        self.truncations: list[tuple[float, int]] = []  # (when, audio_end_ms) of every truncate

    def tool_results(self) -> list[str]:
        """What every function_call_output said the function returned, as sent."""
        return [item["output"] for item in self.function_outputs]

    def session_summary(self) -> dict:
        """The last session update that gave tools: its instructions, tool names, and whether it transcribes
        the caller (what a test asks of any speech-to-speech fake)."""
        session = next(update for update in reversed(self.sessions) if update.get("tools"))
        transcription = ((session.get("audio") or {}).get("input") or {}).get("transcription")
        tools = [tool["name"] for tool in session["tools"]]
        return {
            "instructions": session.get("instructions", ""),
            "tools": tools,
            "transcription": bool(transcription),
        }

    def client_events(self, kind: str) -> list[dict]:
        """Every client event of one type (such as "response.cancel"), in order."""
        return [event for _, event in self.received if event.get("type") == kind]

    async def realtime(self, request: web.Request) -> web.StreamResponse:
        if self.down:
            return web.json_response(
                {"error": {"message": "injected outage", "type": "server_error"}}, status=503
            )
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            error = {"message": "Missing bearer authentication in header", "type": "invalid_request_error"}
            return web.json_response({"error": error}, status=401)
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        model = request.query.get("model", "")
        self.connections.append((time.monotonic(), model))
        await RealtimeConnection(self, socket, model).serve()
        return socket


class RealtimeConnection:
    """One WebSocket: its session, its conversation and its input audio buffer."""

    def __init__(self, fake: FakeOpenAIRealtime, socket: web.WebSocketResponse, model: str) -> None:
        self.fake = fake
        self.socket = socket
        self.session = default_session(model)
        self.conversation_id = new_id("conv")
        self.items: dict[str, dict] = {}  # the conversation, in order
        self.item_audio_bytes: dict[str, int] = {}  # audio sent of each assistant item
        self.sending = asyncio.Lock()  # responses stream while client events are answered
        self.undecoded = bytearray()  # PCM not yet judged in whole VAD windows
        self.audio_ms = 0.0  # all audio judged on this connection
        self.buffered_ms = 0.0  # audio in the uncommitted input buffer
        self.buffer_voiced = False
        self.speech_item_id: str | None = None  # while the caller speaks: the item it will become
        self.last_voiced_ms = 0.0
        self.new_input: str | None = None  # what the caller said since the last response
        self.new_words: str | None = None  # the words an instruction since the last response asked for
        self.new_output = False  # a function call's output arrived since the last response
        self.response: ModelResponse | None = None
        self.tasks: set[asyncio.Task] = set()

    async def serve(self) -> None:
        handlers = {
            "session.update": self.update_session,
            "input_audio_buffer.append": self.append_audio,
            "input_audio_buffer.commit": self.commit_audio,
            "input_audio_buffer.clear": self.clear_audio,
            "conversation.item.create": self.create_item,
            "conversation.item.retrieve": self.retrieve_item,
            "conversation.item.truncate": self.truncate_item,
            "conversation.item.delete": self.delete_item,
            "response.create": self.create_response,
            "response.cancel": self.cancel_response,
        }
        await self.send("session.created", session=self.session)
        try:
            async for message in self.socket:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    event = json.loads(message.data)
                except ValueError:
                    await self.error("We could not parse the JSON body of your request.", "invalid_json")
                    continue
                self.fake.received.append((time.monotonic(), event))
                handler = handlers.get(event.get("type"))
                if handler is None:
                    refusal = (
                        f"Invalid value: '{event.get('type')}'. Supported values are: {', '.join(handlers)}."
                    )
                    await self.error(refusal, "invalid_value", param="type", event_id=event.get("event_id"))
                else:
                    await handler(event)
        finally:
            for task in self.tasks:
                task.cancel()

    async def send(self, kind: str, **fields) -> None:
        if self.socket.closed:
            return
        async with self.sending:
            try:
                await self.socket.send_str(json.dumps({"event_id": new_id("event"), "type": kind, **fields}))
            except ConnectionError:
                pass  # the client has gone; its receive loop is over

    async def error(self, message: str, code: str | None, param: str | None = None, event_id=None) -> None:
        error = {"type": "invalid_request_error", "code": code, "message": message, "param": param}
        await self.send("error", error={**error, "event_id": event_id})

    def start(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def last_item_id(self) -> str | None:
        return next(reversed(self.items), None)

    async def add_item(self, item: dict) -> None:
        previous = self.last_item_id()
        self.items[item["id"]] = item
        await self.send("conversation.item.added", previous_item_id=previous, item=item)
        await self.send("conversation.item.done", previous_item_id=previous, item=item)

    # The session

    async def update_session(self, event: dict) -> None:
        changes = event.get("session") or {}
        self.fake.sessions.append(changes)
        if changes.get("type") != "realtime":
            message = "Missing required parameter: 'session.type'."
            await self.error(message, "missing_required_parameter", "session.type", event.get("event_id"))
            return
        self.session = updated_session(self.session, changes)
        await self.send("session.updated", session=self.session)

    def audio_format(self, part: str) -> str:
        return (self.session["audio"][part].get("format") or {}).get("type", "audio/pcm")

    def turn_detection(self) -> dict | None:
        return self.session["audio"]["input"].get("turn_detection")

    # The caller's audio

    async def append_audio(self, event: dict) -> None:
        kind = self.audio_format("input")
        try:
            audio = base64.b64decode(event.get("audio", ""), validate=True)
        except binascii.Error:
            await self.error("Invalid 'audio'. Expected base64-encoded audio.", "invalid_value", "audio")
            return
        self.undecoded.extend(decode(audio, kind))
        window_bytes = SAMPLE_RATES[kind] * VAD_WINDOW_MS // 1000 * 2
        while len(self.undecoded) >= window_bytes:
            voiced = has_speech(bytes(self.undecoded[:window_bytes]))
            del self.undecoded[:window_bytes]
            self.audio_ms += VAD_WINDOW_MS
            self.buffered_ms += VAD_WINDOW_MS
            self.buffer_voiced = self.buffer_voiced or voiced
            if self.turn_detection():
                await self.detect_turn(voiced)

    async def detect_turn(self, voiced: bool) -> None:
        """The server VAD: speech starts on a voiced window, and stops after enough silence."""
        detection = {**SERVER_VAD, **(self.turn_detection() or {})}
        if voiced:
            self.last_voiced_ms = self.audio_ms
            if self.speech_item_id is None:
                self.speech_item_id = new_id("item")
                start_ms = max(0, self.audio_ms - VAD_WINDOW_MS - (detection["prefix_padding_ms"] or 0))
                await self.send(
                    "input_audio_buffer.speech_started",
                    audio_start_ms=int(start_ms),
                    item_id=self.speech_item_id,
                )
                if detection["interrupt_response"] is not False:
                    self.cancel("turn_detected")
            return
        silence_ms = detection.get("silence_duration_ms") or SERVER_VAD["silence_duration_ms"]
        if self.speech_item_id and self.audio_ms - self.last_voiced_ms >= silence_ms:
            await self.send(
                "input_audio_buffer.speech_stopped",
                audio_end_ms=int(self.audio_ms),
                item_id=self.speech_item_id,
            )
            await self.commit(self.speech_item_id)
            if detection["create_response"] is not False and self.response is None:
                await self.respond({})

    async def commit_audio(self, event: dict) -> None:
        if self.buffered_ms < MIN_COMMIT_MS:
            message = (
                f"Error committing input audio buffer: buffer too small. Expected at least {MIN_COMMIT_MS}ms "
                f"of audio, but buffer only has {self.buffered_ms:.2f}ms of audio."
            )
            await self.error(message, "input_audio_buffer_commit_empty", event_id=event.get("event_id"))
            return
        await self.commit(self.speech_item_id or new_id("item"))

    async def commit(self, item_id: str) -> None:
        """The buffer becomes a user item; the model hears the next scripted transcript in it, if any."""
        voiced = self.buffer_voiced
        self.speech_item_id = None
        self.buffered_ms, self.buffer_voiced = 0.0, False
        await self.send("input_audio_buffer.committed", previous_item_id=self.last_item_id(), item_id=item_id)
        said = self.fake.transcripts.pop(0) if voiced and self.fake.transcripts else ""
        self.new_input = said
        if said:
            self.fake.heard.append(said)
        content = [{"type": "input_audio", "transcript": None}]
        item = {"id": item_id, "object": "realtime.item", "type": "message", "status": "completed"}
        await self.add_item({**item, "role": "user", "content": content})
        if self.session["audio"]["input"].get("transcription"):
            if self.fake.transcription_delay > 0:
                self.start(self.transcribe(item_id, said, self.fake.transcription_delay))
            else:
                await self.transcribe(item_id, said)

    async def transcribe(self, item_id: str, said: str, delay: float = 0.0) -> None:
        await asyncio.sleep(delay)
        if item_id in self.items:  # the item keeps its transcript, as conversation.item.retrieve shows
            self.items[item_id]["content"][0]["transcript"] = said
        await self.send(
            "conversation.item.input_audio_transcription.delta", item_id=item_id, content_index=0, delta=said
        )
        await self.send(
            "conversation.item.input_audio_transcription.completed",
            item_id=item_id,
            content_index=0,
            transcript=said,
            usage={"type": "duration", "seconds": round(max(1, len(said)) * 0.06, 2)},
        )

    async def clear_audio(self, event: dict) -> None:
        self.undecoded.clear()
        self.buffered_ms, self.buffer_voiced, self.speech_item_id = 0.0, False, None
        await self.send("input_audio_buffer.cleared")

    # The conversation

    async def create_item(self, event: dict) -> None:
        item = {
            "id": new_id("item"),
            "status": "completed",
            **(event.get("item") or {}),
            "object": "realtime.item",
        }
        if item.get("type") == "function_call_output":
            self.fake.function_outputs.append(item)
            self.new_output = True
        elif item.get("type") == "message" and item.get("role") in ("user", "system"):
            text = " ".join(
                part.get("text") or ""
                for part in item.get("content") or []
                if part.get("type") == "input_text"
            )
            if words_to_say(text):
                self.new_words = words_to_say(text)
                self.fake.asked.append((time.monotonic(), self.new_words))
            elif text:
                # pipecat sends what is appended mid-call (keypad digits) as a system item.
                self.new_input = text
                self.fake.heard.append(text)
        await self.add_item(item)

    async def retrieve_item(self, event: dict) -> None:
        item_id = event.get("item_id")
        if item_id in self.items:
            await self.send("conversation.item.retrieved", item=self.items[item_id])
        else:
            message = f"Item with item_id not found: {item_id}"
            await self.error(message, "item_retrieve_invalid_item_id", "item_id", event.get("event_id"))

    async def truncate_item(self, event: dict) -> None:
        item_id, audio_end_ms = event.get("item_id"), event.get("audio_end_ms", 0)
        self.fake.truncations.append((time.monotonic(), audio_end_ms))
        if item_id not in self.item_audio_bytes:
            message = "Only model output audio messages can be truncated"
            await self.error(message, "invalid_value", "item_id", event.get("event_id"))
            return
        kind = self.audio_format("output")
        audio_ms = self.item_audio_bytes[item_id] / SAMPLE_BYTES[kind] / SAMPLE_RATES[kind] * 1000
        if audio_end_ms > audio_ms:
            # The API refuses a trim past the end, then trims at the end anyway.
            refusal = f"Audio content of {int(audio_ms)}ms is already shorter than {audio_end_ms}ms"
            await self.error(refusal, None)
        content_index = event.get("content_index", 0)
        end_ms = min(audio_end_ms, int(audio_ms))
        await self.send(
            "conversation.item.truncated", item_id=item_id, content_index=content_index, audio_end_ms=end_ms
        )

    async def delete_item(self, event: dict) -> None:
        item_id = event.get("item_id")
        if self.items.pop(item_id, None) is None:
            message = f"Item with item_id not found: {item_id}"
            await self.error(message, "item_delete_invalid_item_id", "item_id", event.get("event_id"))
        else:
            await self.send("conversation.item.deleted", item_id=item_id)

    # Responses

    async def create_response(self, event: dict) -> None:
        if self.response is not None:
            message = f"Conversation already has an active response in progress: {self.response.id}."
            await self.error(
                message, "conversation_already_has_active_response", event_id=event.get("event_id")
            )
            return
        await self.respond(event.get("response") or {})

    async def cancel_response(self, event: dict) -> None:
        if not self.cancel("client_cancelled"):
            message = "Cancellation failed: no active response found"
            await self.error(message, "response_cancel_not_active", event_id=event.get("event_id"))

    def cancel(self, reason: str) -> bool:
        response = self.response
        if response is None or response.cancelled.is_set():
            return False
        response.reason = reason
        response.cancelled.set()
        self.fake.cancels.append((time.monotonic(), reason))
        return True

    def reply(self, options: dict) -> str | ToolCall:
        words = words_to_say(options.get("instructions") or "") or self.new_words
        if words:
            return words
        script = self.fake.script or self.fake
        if self.new_input is not None:
            return script.answers.get(self.new_input, script.default_reply)
        return script.default_reply if self.new_output else self.fake.greeting_reply

    async def respond(self, options: dict) -> None:
        reply = self.reply(options)
        self.new_input, self.new_words, self.new_output = None, None, False
        self.fake.responses.append((time.monotonic(), reply))
        self.response = ModelResponse(new_id("resp"))
        modalities = options.get("output_modalities") or self.session.get("output_modalities") or ["audio"]
        self.start(self.stream(self.response, reply, "audio" if "audio" in modalities else "text"))

    async def stream(self, response: ModelResponse, reply: str | ToolCall, modality: str) -> None:
        output = self.session["audio"]["output"]
        resource = {
            "object": "realtime.response",
            "id": response.id,
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "conversation_id": self.conversation_id,
            "output_modalities": [modality],
            "max_output_tokens": self.session.get("max_output_tokens", "inf"),
            "audio": {"output": {"format": output.get("format"), "voice": output.get("voice")}},
            "usage": None,
            "metadata": None,
        }
        await self.send("response.created", response=resource)
        item = None
        if not await response.wait(self.fake.delay):
            if isinstance(reply, ToolCall):
                item = await self.call_function(response, reply)
            else:
                item = await self.speak(response, reply, modality)
        status, details = "completed", None
        if response.cancelled.is_set():
            status, details = "cancelled", {"type": "cancelled", "reason": response.reason}
        self.response = None
        done = {**resource, "status": status, "status_details": details, "usage": usage(str(reply))}
        await self.send("response.done", response={**done, "output": [item] if item else []})

    async def speak(self, response: ModelResponse, text: str, modality: str) -> dict:
        """Streams an assistant message: the text's words, each chunk of audio with its share of them."""
        item_id = new_id("item")
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        position = {"response_id": response.id, "item_id": item_id, "output_index": 0, "content_index": 0}
        previous = self.last_item_id()
        self.items[item_id] = item
        await self.send("response.output_item.added", response_id=response.id, output_index=0, item=item)
        await self.send("conversation.item.added", previous_item_id=previous, item=item)
        audio_out = modality == "audio"
        await self.send("response.content_part.added", **position, part=content_part(audio_out, ""))
        self.fake.spoken.append((time.monotonic(), text))

        words = [word if i == 0 else " " + word for i, word in enumerate(text.split(" "))]
        chunks = self.audio_chunks(text) if audio_out else [b""] * len(words)
        text_event = "response.output_audio_transcript.delta" if audio_out else "response.output_text.delta"
        said = ""
        for i, chunk in enumerate(chunks):
            for word in words[len(words) * i // len(chunks) : len(words) * (i + 1) // len(chunks)]:
                said += word
                await self.send(text_event, **position, delta=word)
            if chunk:
                await self.send(
                    "response.output_audio.delta", **position, delta=base64.b64encode(chunk).decode()
                )
                self.item_audio_bytes[item_id] = self.item_audio_bytes.get(item_id, 0) + len(chunk)
            if i == 0 and await self.inject_malformed(response):
                break
            if await response.wait(CHUNK_SECONDS if self.fake.real_time and chunk else 0):
                break

        if audio_out:
            await self.send("response.output_audio.done", **position)
            await self.send("response.output_audio_transcript.done", **position, transcript=said)
            content = {"type": "output_audio", "transcript": said}
        else:
            await self.send("response.output_text.done", **position, text=said)
            content = {"type": "output_text", "text": said}
        await self.send("response.content_part.done", **position, part=content_part(audio_out, said))
        item.update(status="incomplete" if response.cancelled.is_set() else "completed", content=[content])
        await self.send("response.output_item.done", response_id=response.id, output_index=0, item=item)
        await self.send("conversation.item.done", previous_item_id=previous, item=item)
        return item

    def audio_chunks(self, text: str) -> list[bytes]:
        """A tone as long as the text takes to say, in the session's output format."""
        kind = self.audio_format("output")
        audio = encode(tone(max(0.2, len(text) * SECONDS_PER_CHARACTER), SAMPLE_RATES[kind]), kind)
        chunk_bytes = int(CHUNK_SECONDS * SAMPLE_RATES[kind]) * SAMPLE_BYTES[kind]
        return [audio[start : start + chunk_bytes] for start in range(0, len(audio), chunk_bytes)]

    async def call_function(self, response: ModelResponse, call: ToolCall) -> dict:
        item_id, call_id, arguments = new_id("item"), new_id("call"), json.dumps(call.arguments)
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": call.name,
            "call_id": call_id,
            "arguments": "",
        }
        position = {"response_id": response.id, "item_id": item_id, "output_index": 0, "call_id": call_id}
        previous = self.last_item_id()
        self.items[item_id] = item
        await self.send("response.output_item.added", response_id=response.id, output_index=0, item=item)
        await self.send("conversation.item.added", previous_item_id=previous, item=item)
        await self.send("response.function_call_arguments.delta", **position, delta=arguments)
        await self.send(
            "response.function_call_arguments.done", **position, name=call.name, arguments=arguments
        )
        item.update(status="completed", arguments=arguments)
        await self.send("response.output_item.done", response_id=response.id, output_index=0, item=item)
        await self.send("conversation.item.done", previous_item_id=previous, item=item)
        return item

    async def inject_malformed(self, response: ModelResponse) -> bool:
        """Sends the malformed event asked for, once; True if the connection is gone with it."""
        mode = self.fake.take_malformed()
        if mode is None:
            return False
        if mode == "not-json":
            async with self.sending:
                await self.socket.send_str("this is not JSON {")
        elif mode == "unknown-event":
            await self.send("response.no_such_event", response_id=response.id)
        elif mode == "error":
            message = "The server had an error while processing your request. Sorry about that!"
            error = {"type": "server_error", "code": "server_error", "message": message, "param": None}
            await self.send("error", error={**error, "event_id": None})
        elif mode == "close":
            await self.socket.close(code=WSCloseCode.INTERNAL_ERROR, message=b"internal error")
            return True
        else:
            raise ValueError(f"malformed must be one of {MALFORMED_MODES}, not {mode!r}")
        return False
