"""A fake Deepgram live transcription WebSocket (`/v1/listen`): takes audio, returns scripted transcripts."""

from aiohttp import WSMsgType, web


class FakeDeepgram:
    def __init__(self) -> None:
        self.audio_bytes = 0
        self.connections = 0
        self.app = web.Application()
        self.app.router.add_get("/v1/listen", self.listen)

    async def listen(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.connections += 1
        async for message in socket:
            if message.type == WSMsgType.BINARY:
                self.audio_bytes += len(message.data)
            elif message.type == WSMsgType.TEXT and '"CloseStream"' in message.data:
                break
        return socket
