"""The agent on your own servers, without Pipecat Cloud: `uv run server.py`.

It serves the same bot() as Pipecat Cloud, on PORT, from SERVER_WORKERS processes:

    POST /         Twilio's voice webhook: TwiML that streams the call to wss://<PUBLIC_URL's host>/ws
    WS   /ws       the call's Media Stream; one bot() per call
    GET  /healthz  liveness: 200 while the process runs
    GET  /readyz   readiness: 200 once the warm-up ran, 503 before it and while draining

Both Twilio requests must carry a valid X-Twilio-Signature, checked against PUBLIC_URL, the URL Twilio
calls (a load balancer in front may use another). SIGTERM drains: readiness turns 503, new calls are
refused with 503, and the calls in progress carry on to their end (up to DRAIN_TIMEOUT_SECS); then the
process exits 0.
"""

import multiprocessing
import os
import re
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from urllib.parse import urlsplit

import uvicorn
from dotenv import load_dotenv
from fastapi import FastAPI, Request, Response, WebSocket
from loguru import logger
from pipecat.runner.types import WebSocketRunnerArguments
from twilio.request_validator import SIGNATURE_HEADER, SIGNATURE_SETTINGS_HEADER, RequestValidator

import settings
from phone import twiml
from settings import MissingSetting, Setting

Bot = Callable[[WebSocketRunnerArguments], Awaitable[None]]
Readyz = Callable[[], Awaitable[bool]]
AgentLoader = Callable[[], tuple[Bot, Readyz]]

# The exit code of a worker that could not load the agent: every other worker would fail the same way.
STARTUP_FAILURE = 3
# A TwiML Bin's placeholder (From in double braces), filled from the webhook's form and query.
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# After the drain, what uvicorn's own shutdown may take before it cancels what is left.
SHUTDOWN_GRACE_SECS = 10


@dataclass(frozen=True)
class ServerSettings:
    public_url: str  # the origin Twilio calls, such as https://agent.example.com
    port: int
    workers: int
    drain_timeout: float
    check_signatures: bool

    @property
    def stream_url(self) -> str:
        """Where Twilio opens the Media Stream: PUBLIC_URL's host over wss://."""
        return twiml.self_hosted_stream_url(self.public_url)

    @classmethod
    def from_environment(cls, port: int | None = None) -> "ServerSettings":
        """The server's settings, checked; a bad one raises MissingSetting with the line that names it."""
        check_signatures = settings.TWILIO_SIGNATURE_CHECK.value() != "off"
        if check_signatures:
            settings.TWILIO_AUTH_TOKEN.value()  # the key of every signature
        return cls(
            public_url=public_origin(settings.PUBLIC_URL),
            port=port or whole_number(settings.PORT, 1, 65535),
            workers=whole_number(settings.SERVER_WORKERS, 1, 64),
            drain_timeout=settings.DRAIN_TIMEOUT_SECS.seconds(),
            check_signatures=check_signatures,
        )


def public_origin(setting: Setting) -> str:
    value = setting.value().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc or parts.path or parts.query:
        shown = repr(value) if value else "not set"
        raise MissingSetting(
            f"{setting.name} is {shown}: set it to the https:// address Twilio calls, such as "
            "https://agent.example.com (Twilio signs its requests for that address)"
        )
    return value


def whole_number(setting: Setting, lowest: int, highest: int) -> int:
    value = setting.value()
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if not re.fullmatch(r"[0-9]+", value) or not lowest <= int(value) <= highest:
        raise MissingSetting(f"{setting.name} is {value!r}: use a whole number from {lowest} to {highest}")
    return int(value)


@dataclass
class Calls:
    """One worker's calls in progress, and whether it has stopped taking new ones."""

    in_progress: int = 0
    draining: bool = False


class TwilioSignatures:
    """Checks X-Twilio-Signature: an HMAC of the URL Twilio requested and its POST parameters, keyed with
    the auth token. On a Media Stream upgrade Twilio signs the wss:// URL, with no parameters."""

    def __init__(self, auth_token: str | None) -> None:
        self._validator = RequestValidator(auth_token) if auth_token else None

    def refusal(self, url: str, params: Mapping, headers: Mapping[str, str]) -> str | None:
        """Why the request is not Twilio's, or None when it is (or when the check is off)."""
        if self._validator is None:
            return None
        signature = headers.get(SIGNATURE_HEADER)
        if not signature:
            return f"no {SIGNATURE_HEADER} header"
        if headers.get(SIGNATURE_SETTINGS_HEADER):
            return f"signed with a webhook SharedKey ({SIGNATURE_SETTINGS_HEADER}), not the auth token"
        if not self._validator.validate(url, params, signature):
            return f"{SIGNATURE_HEADER} does not match {url} (is PUBLIC_URL the address Twilio calls?)"
        return None


def webhook_parameters(form: Mapping, query: Mapping[str, str]) -> dict[str, str]:
    """The parameters the TwiML Bin would send, its placeholders filled as Twilio fills a Bin's:
    from the webhook's form fields (From, To, ...) and the URL's query (callee_name=...)."""
    outbound = form.get("Direction", "").startswith("outbound") and "outbound.xml" in twiml.BIN_PARAMETERS
    values = {**query, **{name: str(value) for name, value in form.items()}}
    bin_parameters = twiml.BIN_PARAMETERS["outbound.xml" if outbound else "inbound.xml"]
    return {
        name: PLACEHOLDER.sub(lambda found: values.get(found.group(1), ""), value)
        for name, value in bin_parameters.items()
    }


def client_address(connection: Request | WebSocket) -> str:
    return connection.client.host if connection.client else "an unknown address"


def create_app(
    bot: Bot, readyz: Readyz, server: ServerSettings | None = None, calls: Calls | None = None
) -> FastAPI:
    """The routes around `bot` and `readyz`: bot.py's, or a test's (tests/serve_agent.py)."""
    server = server or ServerSettings.from_environment()
    calls = calls or Calls()
    signatures = TwilioSignatures(settings.TWILIO_AUTH_TOKEN.value() if server.check_signatures else None)

    @asynccontextmanager
    async def warm_up_at_start(app: FastAPI):
        await readyz()  # starts the warm-up, so that the first calls find it done
        yield

    app = FastAPI(lifespan=warm_up_at_start, openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def alive() -> Response:
        return Response(status_code=200)

    @app.get("/readyz")
    async def ready() -> Response:
        return Response(status_code=200 if not calls.draining and await readyz() else 503)

    @app.post("/")
    async def voice_webhook(request: Request) -> Response:
        if calls.draining:
            logger.warning(f"Refused a voice webhook from {client_address(request)}: draining")
            return Response(status_code=503)
        form = await request.form()
        query = f"?{request.url.query}" if request.url.query else ""
        if reason := signatures.refusal(server.public_url + request.url.path + query, form, request.headers):
            logger.warning(f"Refused a voice webhook from {client_address(request)}: {reason}")
            return Response(status_code=403)
        parameters = webhook_parameters(form, dict(request.query_params))
        return Response(twiml.stream_twiml(parameters, server.stream_url), media_type="application/xml")

    @app.websocket("/ws")
    async def media_stream(websocket: WebSocket) -> None:
        if calls.draining:
            logger.warning(f"Refused a Media Stream from {client_address(websocket)}: draining")
            await websocket.send_denial_response(Response(status_code=503))
            return
        if reason := signatures.refusal(server.stream_url, {}, websocket.headers):
            logger.warning(f"Refused a Media Stream from {client_address(websocket)}: {reason}")
            await websocket.send_denial_response(Response(status_code=403))
            return
        calls.in_progress += 1  # before the first await, so that a drain starting now waits for this call
        try:
            await websocket.accept()
            await bot(WebSocketRunnerArguments(websocket=websocket, session_id=str(uuid.uuid4())))
        except MissingSetting as error:
            logger.error(f"The call could not start: {error}")
        except Exception:
            logger.exception("The call ended with an error")
        finally:
            calls.in_progress -= 1

    return app


class DrainingServer(uvicorn.Server):
    """uvicorn's server, except that SIGTERM or Ctrl+C lets the calls in progress end before it exits.

    uvicorn's own shutdown closes every open WebSocket with code 1012, which would cut the calls. Here
    the first signal only starts the drain; uvicorn's shutdown runs once no call is left or
    DRAIN_TIMEOUT_SECS have passed. A second Ctrl+C ends the calls at once. A worker whose supervisor
    was killed drains too, rather than serve on as an orphan.
    """

    def __init__(self, config: uvicorn.Config, calls: Calls, drain_timeout: float) -> None:
        super().__init__(config)
        self.calls = calls
        self.drain_timeout = drain_timeout
        self._drain_deadline: float | None = None
        self._end_calls_now = False
        self._supervisor = os.getppid()

    def handle_exit(self, sig: int, frame) -> None:
        # A signal handler: it only sets flags, and the next tick of the event loop acts on them.
        if self.calls.draining and sig == signal.SIGINT:
            self._end_calls_now = True
        self.calls.draining = True

    async def on_tick(self, counter: int) -> bool:
        if not self.calls.draining and os.getppid() != self._supervisor:
            logger.warning("The supervisor process is gone: draining")
            self.calls.draining = True
        if self.calls.draining and not self.should_exit:
            self.should_exit = self._drain_over()
        return await super().on_tick(counter)

    def _drain_over(self) -> bool:
        in_progress = self.calls.in_progress
        if self._drain_deadline is None:
            self._drain_deadline = time.monotonic() + self.drain_timeout
            logger.info(
                f"Draining: /readyz answers 503 and new calls are refused; {in_progress} call(s) in progress "
                f"carry on (up to DRAIN_TIMEOUT_SECS={self.drain_timeout:g})"
            )
        if not in_progress:
            logger.info("No call in progress: stopping")
            return True
        if self._end_calls_now or time.monotonic() >= self._drain_deadline:
            why = "A second Ctrl+C" if self._end_calls_now else "DRAIN_TIMEOUT_SECS passed"
            logger.warning(f"{why}: ending the {in_progress} call(s) in progress")
            return True
        return False


def run_worker(load_agent: AgentLoader, listener: socket.socket, server: ServerSettings) -> None:
    """One worker process: the agent, its app and a DrainingServer on the shared listening socket."""
    # Until uvicorn takes over the signals; the supervisor relays Ctrl+C as SIGTERM meanwhile.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    calls = Calls()
    try:
        bot, readyz = load_agent()
        app = create_app(bot, readyz, server, calls)
    except Exception:
        logger.exception("This worker could not load the agent")
        sys.exit(STARTUP_FAILURE)
    config = uvicorn.Config(
        app, log_level="info", access_log=False, timeout_graceful_shutdown=SHUTDOWN_GRACE_SECS
    )
    DrainingServer(config, calls, server.drain_timeout).run(sockets=[listener])


def serve(load_agent: AgentLoader, port: int | None = None) -> int:
    """Runs the workers until SIGTERM or Ctrl+C, replacing any that dies; returns the exit code."""
    try:
        server = ServerSettings.from_environment(port)
    except MissingSetting as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not server.check_signatures:
        logger.warning(
            "TWILIO_SIGNATURE_CHECK=off: requests are not checked for Twilio's signature, so anyone who "
            "finds this server can open calls on it"
        )
    try:
        # One socket for all the workers; the kernel hands each new connection to one of them.
        listener = socket.create_server(("0.0.0.0", server.port), backlog=2048)
    except OSError as error:
        print(f"error: cannot listen on port {server.port}: {error.strerror}", file=sys.stderr)
        return 2
    spawn = multiprocessing.get_context("spawn")

    def start_worker() -> BaseProcess:
        worker = spawn.Process(target=run_worker, args=(load_agent, listener, server))
        worker.start()
        return worker

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    workers = [start_worker() for _ in range(server.workers)]
    logger.info(
        f"Serving on port {server.port} with {server.workers} worker(s): Twilio's voice webhook is "
        f"{server.public_url}/, its Media Stream {server.stream_url}"
    )
    exit_code = 0
    while not stop.wait(0.5):
        for index, worker in enumerate(workers):
            if worker.is_alive():
                continue
            if worker.exitcode == STARTUP_FAILURE:
                logger.error("A worker could not load the agent (its error is above): stopping")
                exit_code = 1
                stop.set()
                break
            logger.warning(f"Worker {worker.pid} exited with code {worker.exitcode}: starting another")
            workers[index] = start_worker()
    logger.info("Stopping: each worker lets its calls end (up to DRAIN_TIMEOUT_SECS), then exits")
    for worker in workers:
        if worker.is_alive():
            os.kill(worker.pid, signal.SIGTERM)
    for worker in workers:
        worker.join()
    listener.close()
    logger.info("Stopped")
    return exit_code


def load_agent() -> tuple[Bot, Readyz]:
    """bot.py's bot() and readyz(), imported in each worker: the supervisor itself stays small."""
    import bot as agent

    return agent.bot, agent.readyz


def main() -> int:
    load_dotenv()  # a local .env; variables already set win
    return serve(load_agent)


if __name__ == "__main__":
    sys.exit(main())
