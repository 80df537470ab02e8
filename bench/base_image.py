"""Starts a bot the way Pipecat Cloud's base image does, to time how soon it is ready for calls.

  python bench/base_image.py --port 8080      (run in the bot's folder)

The base image imports /app/bot.py, serves on its port, and routes calls to the instance once GET /readyz
answers 200: as `readyz()` in bot.py says, or at once when bot.py has none. Only that readiness probe is
served here: the benchmark's calls go through pipecat's development runner (bench/probe.py).
"""

import argparse
import os
import sys

import uvicorn
from fastapi import FastAPI, Response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    sys.path.insert(0, os.getcwd())
    import bot

    readyz = getattr(bot, "readyz", None)
    app = FastAPI()

    @app.get("/readyz")
    async def ready() -> Response:
        return Response(status_code=200 if readyz is None or await readyz() else 503)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
