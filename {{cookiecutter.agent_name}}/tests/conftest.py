{%- set catalog = cookiecutter._providers -%}
"""Fixtures that run the agent against local fakes of every network peer: nothing leaves the machine."""

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.background import BackgroundServers
from tests.fakes.cartesia_server import FakeCartesia
from tests.fakes.deepgram_server import FakeDeepgram
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.twilio_rest import FakeTwilioRest

AGENT_DIR = Path(__file__).resolve().parents[1]
FAKE_TWILIO_AUTH_TOKEN = "fake-twilio-auth-token-d41d8cd9"

# Where each chosen provider is pointed: its endpoint variable and the fake that speaks its protocol.
{%- set faked = namespace(endpoints=[], missing=[]) %}
{%- for kind in ["stt", "llm", "tts"] %}
{%- set provider = catalog[kind][cookiecutter[kind]] %}
{%- if "endpoint" in provider and "fake" in provider.endpoint %}
{%- set faked.endpoints = faked.endpoints + [provider.endpoint] %}
{%- else %}
{%- set faked.missing = faked.missing + [provider.label ~ " " ~ kind.upper()] %}
{%- endif %}
{%- endfor %}
PROVIDER_ENDPOINTS = {
{%- for endpoint in faked.endpoints %}
    "{{ endpoint.env }}": "{{ endpoint.fake }}",
{%- endfor %}
{%- if faked.endpoints %}
{% endif -%}
}
PROVIDER_KEYS = [
{%- for api_key in [catalog.stt[cookiecutter.stt].api_key, catalog.llm[cookiecutter.llm].api_key, catalog.tts[cookiecutter.tts].api_key] | unique %}
    "{{ api_key }}",
{%- endfor %}
]
# Providers that no local fake imitates yet: a call test would need their real service.
PROVIDERS_WITHOUT_FAKE = [
{%- for name in faked.missing %}
    "{{ name }}",
{%- endfor %}
{%- if faked.missing %}
{% endif -%}
]


@dataclass
class Fakes:
    openai: FakeOpenAI
    deepgram: FakeDeepgram
    cartesia: FakeCartesia
    twilio: FakeTwilioRest
    env: dict[str, str]


@pytest.fixture(scope="session")
def fakes():
    if PROVIDERS_WITHOUT_FAKE:
        pytest.fail(f"no offline fake for {', '.join(PROVIDERS_WITHOUT_FAKE)} yet: the call tests cannot run")
    servers = BackgroundServers()
    peers = {
        "openai": FakeOpenAI(),
        "deepgram": FakeDeepgram(),
        "cartesia": FakeCartesia(),
        "twilio": FakeTwilioRest(),
    }
    hosts = {name: servers.serve(peer.app).removeprefix("http://") for name, peer in peers.items()}
    env = {
        # A developer's own .env must never redirect the tests to real providers.
        "PYTHON_DOTENV_DISABLED": "1",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": FAKE_TWILIO_AUTH_TOKEN,
        "TWILIO_API_BASE_URL": f"http://{hosts['twilio']}",
        **{key: f"fake-{key.lower()}" for key in PROVIDER_KEYS},
        **{name: url.format(**hosts) for name, url in PROVIDER_ENDPOINTS.items()},
    }
    yield Fakes(env=env, **peers)
    servers.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SERVER_COMMANDS = {
    # The Pipecat Cloud way: a /ws server that calls bot(runner_args), like the base image.
    "cloud": ["-m", "tests.pipecat_cloud_host", "--port"],
    # The local way: pipecat's development runner, `python bot.py -t twilio`.
    "local": ["bot.py", "-t", "twilio", "--host", "127.0.0.1", "--port"],
}


@dataclass
class AgentServer:
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()


@pytest.fixture(scope="session", params=sorted(SERVER_COMMANDS))
def agent(request, fakes, tmp_path_factory):
    port = free_port()
    log_path = tmp_path_factory.mktemp("logs") / f"{request.param}.log"
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, *SERVER_COMMANDS[request.param], str(port)],
            cwd=AGENT_DIR,
            env={**env, **fakes.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, server, log_path)
        yield AgentServer(f"ws://127.0.0.1:{port}/ws", log_path)
    finally:
        server.terminate()
        server.wait(10)


def wait_for_port(port: int, server: subprocess.Popen, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the agent server exited early:\n{log_path.read_text()[-3000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"the agent server did not listen on port {port} within {timeout}s")
