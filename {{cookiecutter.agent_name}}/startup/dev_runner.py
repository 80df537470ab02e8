"""`python bot.py -t twilio`: pipecat's development runner, listening before the warm-up has run.

The runner has no readiness probe of its own, so this adds GET /readyz (the base image's, answered by the
same readyz()) and starts the warm-up as soon as the port accepts connections. A call that arrives sooner
waits for the warm-up (AgentProcess.warmed_up), rather than finding nothing listening.
"""

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from pipecat.runner.run import app, main, runner_host, runner_port

from startup.process import AgentProcess

# How often the warm-up checks whether the runner's server has started listening.
LISTENING_POLL_SECS = 0.01


def serve(process: AgentProcess) -> None:
    """Runs pipecat's development runner with the process's warm-up and readiness probe."""
    serving = app.router.lifespan_context

    @asynccontextmanager
    async def warm_up_once_listening(server: FastAPI):
        async with serving(server) as state:
            warm_up = asyncio.create_task(start_when_listening(process))
            yield state
            warm_up.cancel()

    @app.get("/readyz")
    async def readyz() -> Response:
        return Response(status_code=200 if await process.readyz() else 503)

    app.router.lifespan_context = warm_up_once_listening
    main()


async def start_when_listening(process: AgentProcess) -> None:
    """uvicorn runs the lifespan before it binds: the warm-up's CPU work waits until calls can connect."""
    # The runner binds the host it was given; 0.0.0.0 and :: are reached on loopback.
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(runner_host(), runner_host())
    while True:
        try:
            _, writer = await asyncio.open_connection(host, runner_port())
        except OSError:
            await asyncio.sleep(LISTENING_POLL_SECS)
            continue
        writer.close()
        await writer.wait_closed()
        break
    await process.readyz()  # starts the warm-up
