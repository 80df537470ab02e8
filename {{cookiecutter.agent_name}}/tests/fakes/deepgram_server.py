"""A fake Deepgram live transcription WebSocket (`/v1/listen`).

It takes the bot's linear16 audio and, when pipecat asks it to `Finalize` after the caller spoke,
answers with the next scripted transcript as a final `Results` message. Like Deepgram, it answers a
`Finalize` only when it has heard speech since the last one. Failures: `silent` hears everything and
never answers; `drop_after_secs` closes the connection with 1011 (Deepgram's internal error) once that
much speech of an utterance has arrived, and that utterance's transcript is lost with it.
"""

import json
import time
import uuid

from aiohttp import WSCloseCode, WSMsgType, web

from tests.fakes.audio import has_speech


def results(transcript: str, duration: float) -> dict:
    words = [
        {"word": word, "start": 0.0, "end": duration, "confidence": 0.99, "punctuated_word": word}
        for word in transcript.split()
    ]
    return {
        "type": "Results",
        "channel_index": [0, 1],
        "duration": duration,
        "start": 0.0,
        "is_final": True,
        "speech_final": True,
        "from_finalize": True,
        "channel": {"alternatives": [{"transcript": transcript, "confidence": 0.99, "words": words}]},
        "metadata": {
            "request_id": str(uuid.uuid4()),
            "model_info": {"name": "fake", "version": "1", "arch": "fake"},
            "model_uuid": str(uuid.uuid4()),
        },
    }


class FakeDeepgram:
    # The transcripts it answers with, one per utterance of the caller, in order.
    transcripts: list[str]

    def __init__(self) -> None:
        self.reset()
        self.app = web.Application()
        self.app.router.add_get("/v1/listen", self.listen)

    def reset(self) -> None:
        self.transcripts = []
        self.silent = False
        self.drop_after_secs: float | None = None
        self.drops: list[float] = []  # when it dropped a connection mid-utterance

    async def listen(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        sample_rate = int(request.query.get("sample_rate", "8000"))
        heard_speech_bytes = 0
        async for message in socket:
            if message.type == WSMsgType.BINARY:
                if has_speech(message.data):
                    heard_speech_bytes += len(message.data)
                drop_at = self.drop_after_secs
                if drop_at is not None and heard_speech_bytes / 2 / sample_rate >= drop_at:
                    self.drop_after_secs = None  # once: the next connection works
                    self.drops.append(time.monotonic())
                    if self.transcripts:
                        self.transcripts.pop(0)  # what the caller said went with the connection
                    await socket.close(code=WSCloseCode.INTERNAL_ERROR, message=b"internal error")
                    break
            elif message.type == WSMsgType.TEXT:
                kind = json.loads(message.data).get("type")
                if kind == "CloseStream":
                    break
                if kind == "Finalize" and heard_speech_bytes and self.transcripts and not self.silent:
                    duration = heard_speech_bytes / 2 / sample_rate
                    await socket.send_json(results(self.transcripts.pop(0), duration))
                    heard_speech_bytes = 0
        return socket
