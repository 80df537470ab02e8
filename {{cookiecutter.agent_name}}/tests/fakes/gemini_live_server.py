"""A fake Gemini Live API: the BidiGenerateContent WebSocket, over TLS, as google-genai's `live.connect` and
pipecat's GeminiLiveLLMService speak it, with scripted replies and a record of every client message.

google-genai connects with `wss://` whatever the base URL, so the fake serves TLS with a self-signed
certificate of its own (`certificate`, for SSL_CERT_FILE; `ssl_context`, for the server). It serves
/ws/google.ai.generativelanguage.{v1beta,v1alpha}.GenerativeService.BidiGenerateContent. Without an API key
(the `x-goog-api-key` header, or `?key=`) it closes the socket with 1008 and the service's reason. The first
message is the `setup`, answered with `setupComplete`. Vertex AI's version of the API, at
/ws/google.cloud.aiplatform.{v1beta1,v1}.LlmBidiService/BidiGenerateContent, takes an access token from
`token_issuer` (the Google OAuth fake) instead, and refuses the handshake with 401 without one.

Turns are driven by the client, as pipecat drives them with the service's own voice detection off: caller
audio counts only between `activityStart` and `activityEnd` (the service discards the rest). On activityEnd,
if the caller was heard (`has_speech` in 20 ms windows, at the rate of the audio's MIME type), the next of
`transcripts` is what they said, sent as `inputTranscription` when the setup asked for it, and the model
responds. `clientContent` turns are text: an instruction to say words (phrases.SAY_EXACTLY) is what the next
response says, other text is the caller's words (keypad digits); `turnComplete` makes the model respond.
pipecat's blank `realtimeInput.text` after it (Gemini 3's nudge) starts no second response; other realtime
text is the caller's words and is answered.

A response says the words asked for since the last one; else `answers[what the caller last said]` (a reply,
or a ToolCall that makes it a `toolCall`); else `default_reply`, or `greeting_reply` when nothing was said or
answered. After a `toolResponse` the model responds again, with `default_reply` unless words were asked for.
After `delay` it speaks a tone as long as the text (24 kHz PCM in `modelTurn`), each chunk followed by its
share of the words in `outputTranscription`, then `generationComplete` and `turnComplete` with
`usageMetadata`. An activityStart while a response is under way cuts it: `interrupted`, kept in `cancels`.

Failures: `down` refuses the WebSocket with 503. `malformed` is sent once, after the first audio of the next
reply: "not-json" (a text frame that is not JSON), "unknown-event" (a message type the API does not have),
"error" (the service's internal error: a close with 1011 and its reason), or "close" (the connection drops,
with no close frame).
"""

import asyncio
import base64
import binascii
import datetime
import ipaddress
import json
import re
import ssl
import tempfile
import time
import uuid
from pathlib import Path

from aiohttp import WSCloseCode, WSMsgType, web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.fakes.audio import has_speech, tone
from tests.fakes.openai_realtime_server import (
    CHUNK_SECONDS,
    MALFORMED_MODES,
    SECONDS_PER_CHARACTER,
    VAD_WINDOW_MS,
    ModelResponse,
    SpeechToSpeechFake,
    words_to_say,
)
from tests.fakes.openai_server import FakeOpenAI, ToolCall

API_VERSIONS = ("v1beta", "v1alpha")
LIVE_PATH = "/ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent"
# The same API on Vertex AI, which takes an OAuth access token (Authorization: Bearer) instead of a key.
VERTEX_API_VERSIONS = ("v1beta1", "v1")
VERTEX_LIVE_PATH = "/ws/google.cloud.aiplatform.{version}.LlmBidiService/BidiGenerateContent"
UNAUTHENTICATED = {
    "code": 401,
    "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
    "or other valid authentication credential.",
    "status": "UNAUTHENTICATED",
}
OUTPUT_RATE = 24000  # the service always speaks 16-bit PCM at 24 kHz
INPUT_RATE = 16000  # the rate of `audio/pcm` that names none
# The service's close reason without a key, as it arrives: cut to the 123 bytes a close frame holds.
NO_KEY_REASON = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API."
)
INTERNAL_ERROR_REASON = "Internal error encountered."
INVALID_ARGUMENT_REASON = "Request contains an invalid argument."


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, written as cert.pem and key.pem in `directory`.

    It is its own CA, with the extensions Python's strict verification (3.13's default) asks for.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-gemini-live")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    key_usage = x509.KeyUsage(True, False, False, False, False, True, False, False, False)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(key_usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = Path(directory) / "cert.pem", Path(directory) / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def ssl_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def camel_case(name: str) -> str:
    return re.sub(r"_([a-z])", lambda match: match.group(1).upper(), name)


def camel(value):
    """`value` with every key in camelCase, to read: the service takes proto field names either way."""
    if isinstance(value, dict):
        return {camel_case(key): camel(item) for key, item in value.items()}
    return [camel(item) for item in value] if isinstance(value, list) else value


def turn_text(turn: dict) -> str:
    return "".join(part.get("text") or "" for part in turn.get("parts") or [])


def usage(text: str) -> dict:
    output_tokens = max(1, len(text) // 4)
    return {
        "promptTokenCount": 120,
        "responseTokenCount": output_tokens,
        "totalTokenCount": 120 + output_tokens,
        "promptTokensDetails": [{"modality": m, "tokenCount": n} for m, n in (("TEXT", 90), ("AUDIO", 30))],
        "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": output_tokens}],
    }


class FakeGeminiLive(SpeechToSpeechFake):
    def __init__(self, script: FakeOpenAI | None = None) -> None:
        # With the chat fake as `script`, its `answers` and `default_reply` are the replies.
        self.script = script
        self._certificates = tempfile.TemporaryDirectory(prefix="fake-gemini-live-")
        self.certificate, self.key = make_certificate(Path(self._certificates.name))
        self.ssl_context = ssl_context(self.certificate, self.key)
        self.reset()
        self.app = web.Application()
        for version in API_VERSIONS:
            self.app.router.add_get(LIVE_PATH.format(version=version), self.live)
        for version in VERTEX_API_VERSIONS:
            self.app.router.add_get(VERTEX_LIVE_PATH.format(version=version), self.vertex_live)
        # Vertex AI's access tokens: those this Google OAuth fake issued (tests.fakes.google_oauth).
        self.token_issuer = None

    def session_summary(self) -> dict:
        """The latest setup: its system instruction, tool names, and whether it transcribes the caller."""
        setup = camel(self.sessions[-1])
        instruction = setup.get("systemInstruction") or ""
        if isinstance(instruction, dict):
            instruction = turn_text(instruction)
        tools = [
            declaration["name"]
            for tool in setup.get("tools") or []
            for declaration in tool.get("functionDeclarations") or []
        ]
        transcription = "inputAudioTranscription" in setup
        return {"instructions": instruction, "tools": tools, "transcription": transcription}

    def tool_results(self) -> list[str]:
        """What every functionResponse said the function returned: pipecat wraps a result that is no JSON
        object as {"value": ...}, and adds the scheduling of an async tool's result."""
        results = []
        for result in self.function_outputs:
            response = {k: v for k, v in (result.get("response") or {}).items() if k != "scheduling"}
            results.append(response["value"] if set(response) == {"value"} else json.dumps(response))
        return results

    def client_messages(self, kind: str) -> list[dict]:
        """Every client message of one kind ("setup", "clientContent", "realtimeInput", "toolResponse")."""
        return [message for _, message in self.received if kind in message]

    async def vertex_live(self, request: web.Request) -> web.StreamResponse:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        issued = self.token_issuer.tokens if self.token_issuer else set()
        if scheme != "Bearer" or token not in issued:
            return web.json_response({"error": UNAUTHENTICATED}, status=401)
        return await self.live(request, authenticated=True)

    async def live(self, request: web.Request, authenticated: bool = False) -> web.StreamResponse:
        if self.down:
            error = {"code": 503, "message": "The service is currently unavailable.", "status": "UNAVAILABLE"}
            return web.json_response({"error": error}, status=503)
        opened = time.monotonic()
        socket = web.WebSocketResponse(max_msg_size=0)
        await socket.prepare(request)
        if not (authenticated or request.headers.get("x-goog-api-key") or request.query.get("key")):
            # The service takes the setup, then closes (approximated: it may close before the setup).
            try:
                await asyncio.wait_for(socket.receive(), 5)
            except TimeoutError:
                pass
            await socket.close(code=WSCloseCode.POLICY_VIOLATION, message=NO_KEY_REASON.encode())
            return socket
        await LiveConnection(self, socket, request, opened).serve()
        return socket


class LiveConnection:
    """One WebSocket: its setup, the caller's activity window and the responses under way."""

    def __init__(self, fake: FakeGeminiLive, socket: web.WebSocketResponse, request, opened: float) -> None:
        self.fake, self.socket, self.request, self.opened = fake, socket, request, opened
        self.setup: dict | None = None
        self.sending = asyncio.Lock()  # responses stream while client messages are answered
        self.active = False  # between activityStart and activityEnd
        self.voiced = False
        self.undecoded = bytearray()  # PCM not yet judged in whole windows
        self.new_input: str | None = None  # what the caller said since the last response
        self.new_words: str | None = None  # the words an instruction since the last response asked for
        self.new_output = False  # a function's result arrived since the last response
        self.pending: list[ModelResponse] = []  # responses under way or waiting for the one before
        self.previous: asyncio.Task | None = None
        self.tasks: set[asyncio.Task] = set()

    async def serve(self) -> None:
        handlers = {
            "clientContent": self.client_content,
            "realtimeInput": self.realtime_input,
            "toolResponse": self.tool_response,
        }
        try:
            async for frame in self.socket:
                if frame.type != WSMsgType.TEXT and frame.type != WSMsgType.BINARY:
                    break
                try:
                    sent = json.loads(frame.data)
                except ValueError:
                    await self.close(WSCloseCode.INVALID_TEXT, "Invalid JSON payload received.")
                    break
                # google-genai names the message kinds in snake_case ("client_content"), their fields in
                # camelCase: kept as sent, under the camelCase kind.
                message = {camel_case(key): body for key, body in sent.items()}
                self.fake.received.append((time.monotonic(), message))
                kind = next(iter(message), None)
                if self.setup is None and kind == "setup":
                    await self.start_session(message["setup"])
                elif self.setup is not None and kind in handlers:
                    await handlers[kind](message[kind] or {})
                else:  # the proto parser refuses an unknown or misplaced field
                    await self.close(WSCloseCode.INVALID_TEXT, INVALID_ARGUMENT_REASON)
                    break
        finally:
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

    async def send(self, message: dict) -> None:
        async with self.sending:
            try:
                await self.socket.send_str(json.dumps(message))
            except ConnectionResetError:  # the client has gone: a response under way talks to no one
                pass

    async def close(self, code: int, reason: str) -> None:
        async with self.sending:
            await self.socket.close(code=code, message=reason.encode())

    def start(self, coroutine) -> asyncio.Task:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def start_session(self, setup: dict) -> None:
        self.fake.sessions.append(setup)
        self.setup = camel(setup)
        self.fake.connections.append((self.opened, self.setup.get("model", "")))
        await self.send({"setupComplete": {}})

    # The caller

    async def realtime_input(self, realtime: dict) -> None:
        realtime = camel(realtime)
        if "activityStart" in realtime:
            self.active, self.voiced = True, False
            self.undecoded.clear()
            await self.interrupt()
        for blob in [realtime.get("audio"), *(realtime.get("mediaChunks") or [])]:
            if blob and self.active and str(blob.get("mimeType", "")).startswith("audio/pcm"):
                self.hear(blob)
        if "activityEnd" in realtime and self.active:
            self.active = False
            if self.voiced:
                await self.caller_spoke()
        text = realtime.get("text")
        if text and text.strip():  # the caller's words, which the model answers as a turn
            self.new_input = text
            self.fake.heard.append(text)
            self.respond()
        # A blank text is pipecat's nudge after turnComplete, which already had the model respond.

    def hear(self, blob: dict) -> None:
        # google-genai sends the bytes in URL-safe base64, which the service takes as it takes the standard.
        data = str(blob.get("data") or "").translate(str.maketrans("-_", "+/"))
        try:
            self.undecoded.extend(base64.b64decode(data, validate=True))
        except binascii.Error:
            return
        rate = re.search(r"rate=(\d+)", blob["mimeType"])
        window = (int(rate.group(1)) if rate else INPUT_RATE) * VAD_WINDOW_MS // 1000 * 2
        while len(self.undecoded) >= window:
            self.voiced = self.voiced or has_speech(bytes(self.undecoded[:window]))
            del self.undecoded[:window]

    async def caller_spoke(self) -> None:
        said = self.fake.transcripts.pop(0) if self.fake.transcripts else ""
        self.new_input = said
        if said:
            self.fake.heard.append(said)
        if said and "inputAudioTranscription" in self.setup:
            if self.fake.transcription_delay > 0:
                self.start(self.transcribe(said, self.fake.transcription_delay))
            else:
                await self.transcribe(said)
        self.respond()

    async def transcribe(self, said: str, delay: float = 0.0) -> None:
        await asyncio.sleep(delay)
        await self.send({"serverContent": {"inputTranscription": {"text": said}}})

    async def client_content(self, content: dict) -> None:
        content = camel(content)
        turns = content.get("turns") or []
        # Turns up to the model's last one are history (a reconnect seeds them): answered already.
        answered = max((i + 1 for i, turn in enumerate(turns) if turn.get("role") == "model"), default=0)
        for turn in turns[answered:]:
            text = turn_text(turn)
            words = words_to_say(text)
            if words:
                self.new_words = words
                self.fake.asked.append((time.monotonic(), words))
            elif text.strip():  # pipecat appends keypad digits as a user turn
                self.new_input = text
                self.fake.heard.append(text)
        if content.get("turnComplete"):
            self.respond()

    async def tool_response(self, response: dict) -> None:
        results = response.get("functionResponses") or response.get("function_responses") or []
        self.fake.function_outputs.extend(results)  # as sent: the results' own keys stay as they are
        self.new_output = self.new_output or bool(results)
        # A NON_BLOCKING result scheduled SILENT is taken in without an answer.
        silent = all(
            "SILENT" in (result.get("scheduling"), (result.get("response") or {}).get("scheduling"))
            for result in results
        )
        if results and not silent:
            self.respond()

    # Responses

    def reply(self) -> str | ToolCall:
        if self.new_words:
            return self.new_words
        script = self.fake.script or self.fake
        if self.new_input is not None:
            return script.answers.get(self.new_input, script.default_reply)
        return script.default_reply if self.new_output else self.fake.greeting_reply

    def respond(self) -> None:
        """A response to what came since the last one, after the responses already under way."""
        reply = self.reply()
        self.new_input, self.new_words, self.new_output = None, None, False
        self.fake.responses.append((time.monotonic(), reply))
        response = ModelResponse(id="")  # the API names no response: only one streams at a time
        self.pending.append(response)
        self.previous = self.start(self.stream(response, reply, self.previous))

    async def interrupt(self) -> None:
        """The caller's activity cuts every response under way, as the service's default activity handling
        does (START_OF_ACTIVITY_INTERRUPTS)."""
        if not self.pending:
            return
        for response in self.pending:
            response.cancelled.set()
            self.fake.cancels.append((time.monotonic(), "interrupted"))
        self.pending.clear()
        await self.send({"serverContent": {"interrupted": True}})

    async def stream(self, response: ModelResponse, reply: str | ToolCall, previous: asyncio.Task | None):
        try:
            if previous:
                await asyncio.wait([previous])
            if await response.wait(self.fake.delay):
                return
            if isinstance(reply, ToolCall):
                call = {"id": f"function-call-{uuid.uuid4().int % 10**19}", "name": reply.name}
                await self.send({"toolCall": {"functionCalls": [{**call, "args": reply.arguments}]}})
            elif await self.speak(response, reply):
                return
        finally:
            if response in self.pending:
                self.pending.remove(response)

    async def speak(self, response: ModelResponse, text: str) -> bool:
        """Streams the text's audio, each chunk with its share of the words; True if the socket is gone."""
        self.fake.spoken.append((time.monotonic(), text))
        audio = tone(max(0.2, len(text) * SECONDS_PER_CHARACTER), OUTPUT_RATE)
        size = int(CHUNK_SECONDS * OUTPUT_RATE) * 2
        chunks = [audio[start : start + size] for start in range(0, len(audio), size)]
        words = [word if i == 0 else " " + word for i, word in enumerate(text.split(" "))]
        for i, chunk in enumerate(chunks):
            data = base64.b64encode(chunk).decode()
            part = {"inlineData": {"mimeType": f"audio/pcm;rate={OUTPUT_RATE}", "data": data}}
            await self.send({"serverContent": {"modelTurn": {"parts": [part]}}})
            share = "".join(words[len(words) * i // len(chunks) : len(words) * (i + 1) // len(chunks)])
            if share:
                await self.send({"serverContent": {"outputTranscription": {"text": share}}})
            if i == 0 and await self.inject_malformed():
                return True
            if await response.wait(CHUNK_SECONDS if self.fake.real_time else 0):
                return False
        await self.send({"serverContent": {"generationComplete": True}})
        await self.send({"serverContent": {"turnComplete": True}, "usageMetadata": usage(text)})
        if "sessionResumption" in self.setup:  # a handle to resume from, as the service gives after a turn
            update = {"newHandle": f"fake-resumption-{uuid.uuid4().hex}", "resumable": True}
            await self.send({"sessionResumptionUpdate": update})
        return False

    async def inject_malformed(self) -> bool:
        """Sends the malformed message asked for, once; True if the connection is gone with it."""
        mode = self.fake.take_malformed()
        if mode is None:
            return False
        if mode == "not-json":
            async with self.sending:
                await self.socket.send_str("this is not JSON {")
        elif mode == "unknown-event":
            await self.send({"noSuchMessage": {"detail": "a message type this API does not have"}})
        elif mode == "error":
            await self.close(WSCloseCode.INTERNAL_ERROR, INTERNAL_ERROR_REASON)
            return True
        elif mode == "close":
            self.request.transport.abort()  # no close frame: the client sees 1006
            return True
        else:
            raise ValueError(f"malformed must be one of {MALFORMED_MODES}, not {mode!r}")
        return False
