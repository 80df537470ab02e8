"""Serves bot() the way the Pipecat Cloud base image does: accept the WebSocket at /ws, then call bot().

Like the base image it answers GET /readyz from readyz(); the platform routes calls only once that
is ready, and tests.harness waits for it the same way.

Run: python -m tests.pipecat_cloud_host --port 8080
"""

import argparse
import uuid
from collections.abc import Awaitable, Callable

import uvicorn
from fastapi import FastAPI, Response, WebSocket
from pipecatcloud.agent import WebSocketSessionArguments


def serve(bot: Callable[..., Awaitable[None]], readyz: Callable[[], Awaitable[bool]], port: int) -> None:
    app = FastAPI()

    @app.get("/readyz")
    async def ready() -> Response:
        return Response(status_code=200 if await readyz() else 503)

    @app.websocket("/ws")
    async def twilio_stream(websocket: WebSocket) -> None:
        await websocket.accept()
        await bot(WebSocketSessionArguments(websocket=websocket, session_id=str(uuid.uuid4())))

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    import bot as agent

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    serve(agent.bot, agent.readyz, parser.parse_args().port)
