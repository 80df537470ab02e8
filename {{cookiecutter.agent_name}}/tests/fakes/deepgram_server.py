"""A fake Deepgram live transcription WebSocket (`/v1/listen`).

It takes the bot's linear16 audio and, when pipecat asks it to `Finalize` after the caller spoke,
answers with the next scripted transcript as a final `Results` message.
"""

import json
import uuid

from aiohttp import WSMsgType, web

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

    async def listen(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        sample_rate = int(request.query.get("sample_rate", "8000"))
        heard_speech_bytes = 0
        async for message in socket:
            if message.type == WSMsgType.BINARY:
                if has_speech(message.data):
                    heard_speech_bytes += len(message.data)
            elif message.type == WSMsgType.TEXT:
                kind = json.loads(message.data).get("type")
                if kind == "CloseStream":
                    break
                if kind == "Finalize" and heard_speech_bytes and self.transcripts:
                    duration = heard_speech_bytes / 2 / sample_rate
                    await socket.send_json(results(self.transcripts.pop(0), duration))
                    heard_speech_bytes = 0
        return socket
