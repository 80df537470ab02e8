"""Serves bot() the way the Pipecat Cloud base image does: accept the WebSocket at /ws, then call bot().

Like the base image it answers GET /readyz from readyz(); the platform routes calls only once that
is ready, and tests.harness waits for it the same way. GET /resources is the tests' own, not the base
image's: what the process holds (descriptors, threads, asyncio tasks, call pipelines in memory), for
tests/test_call_leaks.py.

Run: python -m tests.pipecat_cloud_host --port 8080
"""

import argparse
import asyncio
import gc
import os
import threading
import uuid
from collections.abc import Awaitable, Callable

import uvicorn
from fastapi import FastAPI, Response, WebSocket
from pipecat.pipeline.worker import PipelineWorker
from pipecatcloud.agent import WebSocketSessionArguments

# Linux lists a process's open descriptors in /proc/self/fd, macOS in /dev/fd.
DESCRIPTORS = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"


def serve(bot: Callable[..., Awaitable[None]], readyz: Callable[[], Awaitable[bool]], port: int) -> None:
    app = FastAPI()

    @app.get("/readyz")
    async def ready() -> Response:
        return Response(status_code=200 if await readyz() else 503)

    @app.get("/resources")
    async def resources() -> dict[str, int]:
        return held_resources()

    @app.websocket("/ws")
    async def twilio_stream(websocket: WebSocket) -> None:
        await websocket.accept()
        await bot(WebSocketSessionArguments(websocket=websocket, session_id=str(uuid.uuid4())))

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def held_resources() -> dict[str, int]:
    """What this process holds now; the task of the request that asks is not counted."""
    asking = asyncio.current_task()
    return {
        "descriptors": len(os.listdir(DESCRIPTORS)),
        "threads": threading.active_count(),
        "tasks": sum(1 for task in asyncio.all_tasks() if task is not asking),
        "pipelines": sum(1 for thing in gc.get_objects() if isinstance(thing, PipelineWorker)),
    }


if __name__ == "__main__":
    import bot as agent

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    serve(agent.bot, agent.readyz, parser.parse_args().port)
