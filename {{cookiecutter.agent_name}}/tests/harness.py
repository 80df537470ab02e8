{%- set agent = cookiecutter | agent -%}
"""Runs the agent against local fakes of every network peer; used by the tests and the simulator."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.fakes.background import BackgroundServers
from tests.fakes.cartesia_server import FakeCartesia
from tests.fakes.deepgram_server import FakeDeepgram
{%- if agent.realtime %}
from tests.fakes.{{ agent.realtime_fake[0] }} import {{ agent.realtime_fake[1] }}
{%- endif %}
{%- if agent.json_settings %}
from tests.fakes.google_oauth import FakeGoogleOAuth
{%- endif %}
from tests.fakes.openai_server import {% if not agent.realtime %}Failure, {% endif %}FakeOpenAI
from tests.fakes.report_endpoint import FakeReportEndpoint
from tests.fakes.twilio_rest import FakeTwilioRest

AGENT_DIR = Path(__file__).resolve().parents[1]
FAKE_ACCOUNT_SID = "AC" + "0" * 32
FAKE_TWILIO_AUTH_TOKEN = "fake-twilio-auth-token-d41d8cd9"
# Variables from a developer's shell that would steer the agent away from the fakes.
DEVELOPER_SETTINGS = (
    "_API_KEY",
    "_BASE_URL",
    "_PHONE_NUMBER",
    "TRANSFER_NUMBER",
    "PUBLIC_URL",  # the bot reads it too: a transfer brings the caller back there
    "CALL_REPORT_URL",
    "CALL_REPORT_TRANSCRIPT",
    "TWILIO_EDGE",
    "TWILIO_REGION",
)

# Chosen providers whose protocol a local fake speaks: their endpoint variable is pointed at it.
PROVIDER_ENDPOINTS = {
{%- for setting, fake_url in agent.protocol_fakes.items() %}
    "{{ setting }}": "{{ fake_url }}",
{%- else %}}
{%- endfor %}
{%- if agent.protocol_fakes %}
}
{%- endif %}
# Chosen providers no fake speaks: tests.serve_agent stands in for them at the factory boundary.
FACTORY_FAKES = [{% for provider in agent.providers if provider.fake == "factory" %}"{{ provider.kind }}"{{ ", " if not loop.last }}{% endfor %}]
PROVIDER_KEYS = [{% for name in agent.secrets %}"{{ name }}"{{ ", " if not loop.last }}{% endfor %}]
# The chosen providers' other settings without a default (a model to name, a region): placeholders here.
PROVIDER_SETTINGS = [
{%- for name in agent.required_settings %}
    "{{ name }}",
{%- else %}]
{%- endfor %}
{%- if agent.required_settings %}
]
{%- endif %}
# The key tests.serve_agent's stand-ins send to the fake OpenAI server.
FACTORY_FAKE_KEY = "fake-openai-key"


def fake_key(name: str) -> str:
    return f"fake-{name.lower()}"
{%- if agent.json_settings %}


# Settings that hold a service account key file's JSON: the service parses it as it is built, and Vertex AI's
# fetch a token with it then, from the fake Google OAuth endpoint the key file names.
JSON_SETTINGS = [{% for name in agent.json_settings %}"{{ name }}"{{ ", " if not loop.last }}{% endfor %}]
{%- endif %}


# Every fake credential the suite hands the agent: none may show in a log, a report or any output.
PLANTED_SECRETS = [FAKE_TWILIO_AUTH_TOKEN, FACTORY_FAKE_KEY, *(fake_key(name) for name in PROVIDER_KEYS)]


@dataclass
class Fakes:
    openai: FakeOpenAI
    deepgram: FakeDeepgram
    cartesia: FakeCartesia
    twilio: FakeTwilioRest
    reports: FakeReportEndpoint
{%- if agent.json_settings %}
    google_oauth: FakeGoogleOAuth
{%- endif %}
{%- if agent.realtime %}
    # The speech-to-speech model: it replies as the chat fake's `answers` say, so tests script one fake.
    realtime: {{ agent.realtime_fake[1] }}
{%- endif %}
    env: dict[str, str]

    def caller_will_say(self, *transcripts: str) -> None:
        """What the fake speech-to-text services hear, one transcript per caller utterance."""
        self.deepgram.transcripts = list(transcripts)
        self.openai.transcripts = list(transcripts)
{%- if agent.realtime %}
        self.realtime.transcripts = list(transcripts)
{%- endif %}

    def spoken(self) -> list[str]:
{%- if agent.realtime %}
        """Every text the speech-to-speech model spoke, in order."""
        return [text for _, text in self.realtime.spoken]
{%- else %}
        """Every text the bot sent to a text-to-speech fake, in order per fake."""
        return self.cartesia.transcripts + self.openai.speech_inputs
{%- endif %}

    def user_messages(self) -> list[str]:
        """What reached the LLM from the caller, in order: transcripts, and texts such as keypad digits."""
{%- if agent.realtime %}
        return list(self.realtime.heard)
{%- else %}
        return self.openai.user_messages()
{%- endif %}

    def tool_results(self) -> list[str]:
        """What the LLM was told the tools it called returned, in order."""
{%- if agent.realtime %}
        return self.realtime.tool_results()
{%- else %}
        return [message["content"] for message in self.openai.tool_results()]
{%- endif %}

    def model_requests(self) -> int:
        """How often the LLM was asked to answer (a speech-to-speech model: its responses, whoever asked)."""
{%- if agent.realtime %}
        return len(self.realtime.responses)
{%- else %}
        return len(self.openai.chat_requests)
{%- endif %}

    def hold_model(self, seconds: float) -> None:
        """The LLM's next answers start `seconds` late (a chat stream opens, then its first token)."""
{%- if agent.realtime %}
        self.realtime.delay = seconds
{%- else %}
        self.openai.failure = Failure(status=None, delay=seconds, stream_first=True)
{%- endif %}

    def slow_tts(self, seconds: float) -> None:
{%- if agent.realtime %}
        """The bot's voice, the speech-to-speech model, takes `seconds` before it speaks."""
        self.realtime.delay = seconds
{%- else %}
        """Every text-to-speech fake takes `seconds` before it answers."""
        self.cartesia.delay = self.openai.speech_delay = seconds
{%- endif %}

    def break_tts(self) -> None:
{%- if agent.realtime %}
        """The bot's voice, the speech-to-speech model, says nothing from now on: its responses start, and
        nothing comes."""
        self.realtime.delay = 10**6
{%- else %}
        """Every text-to-speech fake fails from now on: Cartesia drops its socket, OpenAI answers 503."""
        self.cartesia.drop_next = 10**6
        self.openai.speech_down = True
{%- endif %}

    def cut_tts_mid_reply(self, after_secs: float, real_time: bool = False) -> None:
        """The next reply's connection drops once `after_secs` of its audio went out (Cartesia: 1011).

        The audio comes faster than real time, or with `real_time` as fast as it plays.
        """
        self.cartesia.cut_after_secs = self.openai.speech_cut_after_secs = after_secs
        self.cartesia.real_time = self.openai.speech_real_time = real_time

    def deaf_stt(self) -> None:
        """The speech-to-text fakes hear the caller and never answer."""
        self.deepgram.silent = True
        self.openai.transcription_fault = "hang"

    def drop_stt_mid_utterance(self, after_secs: float) -> None:
        """The speech-to-text connection drops `after_secs` into the next utterance (Deepgram: 1011)."""
        self.deepgram.drop_after_secs = after_secs
        self.openai.transcription_fault = "drop"

    def tts_cuts(self) -> list[float]:
        """When a text-to-speech fake cut a reply's connection (the tests' clock)."""
        return self.cartesia.cuts + self.openai.speech_cuts

    def stt_drops(self) -> list[float]:
        """When a speech-to-text fake dropped an utterance with its connection (the tests' clock)."""
        return self.deepgram.drops + self.openai.transcription_drops

    def asked_to_speak(self, text: str, after: float = 0.0) -> float | None:
        """When a text-to-speech fake was first sent `text` after `after` (the tests' clock), if it was."""
{%- if agent.realtime %}
        requests = self.realtime.asked  # the instructions to say it, as the model got them
{%- else %}
        requests = self.cartesia.requested + self.openai.speech_requested
{%- endif %}
        return min((at for at, said in requests if said == text and at > after), default=None)

    def reset(self) -> None:
        for fake in (self.openai, self.deepgram, self.cartesia, self.twilio, self.reports):
            fake.reset()
{%- if agent.realtime %}
        self.realtime.reset()
{%- endif %}


def start_fakes(servers: BackgroundServers) -> Fakes:
    peers = {
        "openai": FakeOpenAI(),
        "deepgram": FakeDeepgram(),
        "cartesia": FakeCartesia(),
        "twilio": FakeTwilioRest(),
        "reports": FakeReportEndpoint(),
{%- if agent.json_settings %}
        "google_oauth": FakeGoogleOAuth(),
{%- endif %}
    }
{%- if agent.realtime %}
    peers["realtime"] = {{ agent.realtime_fake[1] }}(script=peers["openai"])
{%- if agent.json_settings %}
    peers["realtime"].token_issuer = peers["google_oauth"]  # Vertex AI takes the tokens it issues
{%- endif %}
{%- endif %}
    # A fake whose client insists on TLS serves it, with a certificate of its own that the agent trusts.
    roots = {
        name: servers.serve(peer.app, getattr(peer, "ssl_context", None)) for name, peer in peers.items()
    }
    hosts = {name: root.partition("://")[2] for name, root in roots.items()}
{%- if agent.json_settings %}
    google_oauth = peers["google_oauth"]
{%- endif %}
    env = {
        # A developer's own .env must never redirect the tests to real providers.
        "PYTHON_DOTENV_DISABLED": "1",
        "TWILIO_ACCOUNT_SID": FAKE_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": FAKE_TWILIO_AUTH_TOKEN,
        "TWILIO_API_BASE_URL": f"http://{hosts['twilio']}",
        "FAKE_OPENAI_URL": f"http://{hosts['openai']}/v1",
{%- if agent.realtime %}
        "FAKE_OPENAI_REALTIME_URL": f"ws://{hosts['realtime']}/v1/realtime",
{%- if agent.realtime_fake[1] != "FakeOpenAIRealtime" %}
        "SSL_CERT_FILE": str(peers["realtime"].certificate),
{%- endif %}
{%- endif %}
        # Fail over quickly, so the failure tests stay short; a slow answer (SLOW_TWILIO_ANSWER_SECS)
        # must still beat the REST timeout on a loaded machine.
        "REPLY_TIMEOUT_SECS": "2",
        "TWILIO_API_TIMEOUT_SECS": "2",
        "CALL_REPORT_URL": f"http://{hosts['reports']}/call-reports",
        "CALL_REPORT_TIMEOUT_SECS": "1",
        **{key: fake_key(key) for key in PROVIDER_KEYS},
{%- if agent.json_settings %}
        **{name: google_oauth.key_file(fake_key(name), roots["google_oauth"]) for name in JSON_SETTINGS},
{%- endif %}
        **{name: f"placeholder-{name.lower()}" for name in PROVIDER_SETTINGS},
        **{name: url.format(**hosts) for name, url in PROVIDER_ENDPOINTS.items()},
    }
    return Fakes(env=env, **peers)


def server_command(mode: str, port: int) -> list[str]:
    if FACTORY_FAKES:
        return ["-m", "tests.serve_agent", mode, "--port", str(port)]
    if mode == "cloud":
        # The Pipecat Cloud way: a /ws server that calls bot(runner_args), like the base image.
        return ["-m", "tests.pipecat_cloud_host", "--port", str(port)]
    if mode == "server":
        # The self-hosted way: server.py, on the PORT that AgentServer sets.
        return ["server.py"]
    # The local way: pipecat's development runner, `python bot.py -t twilio`.
    return ["bot.py", "-t", "twilio", "--host", "127.0.0.1", "--port", str(port)]


@dataclass
class AgentServer:
    url: str
    log_path: Path
    process: subprocess.Popen
    # The fake Twilio REST API the agent asks about its calls; callers register their calls with it.
    twilio: FakeTwilioRest | None = None

    @classmethod
    def start(
        cls,
        mode: str,
        env: dict[str, str],
        log_path: Path,
        twilio: FakeTwilioRest | None = None,
        wait_until_ready: bool = True,
    ) -> "AgentServer":
        port = free_port()
        # Keys and endpoints come only from the fakes, never from the developer's shell.
        base_env = {k: v for k, v in os.environ.items() if not k.endswith(DEVELOPER_SETTINGS)}
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [sys.executable, *server_command(mode, port)],
                cwd=AGENT_DIR,
                # PORT is server.py's; the other modes take --port.
                env={**base_env, **env, "PORT": str(port)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = cls(f"ws://127.0.0.1:{port}/ws", log_path, process, twilio)
        server.wait_until_listening(port)
        # Each way of serving answers /readyz: the base image's, server.py's and the development runner's
        # (startup/dev_runner.py), which starts the warm-up once it listens.
        if wait_until_ready:
            server.wait_until_ready(port)
        return server

    @property
    def http_url(self) -> str:
        """The server's HTTP root, for its webhook and probes."""
        return self.url.replace("ws://", "http://").removesuffix("/ws")

    def wait_until_listening(self, port: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the agent server exited early:\n{self.log()[-3000:]}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"the agent server did not listen on port {port} within {timeout}s")

    def wait_until_ready(self, port: int, timeout: float = 60) -> None:
        """Pipecat Cloud, like a self-hosted server's load balancer, routes calls only once /readyz is 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5):
                    return
            # A timeout: server.py's workers are still starting, and nothing accepts yet.
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"the agent was not ready within {timeout}s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)  # server.py drains first: its calls have ended by now
        except subprocess.TimeoutExpired:
            self.process.kill()  # server.py's workers drain and exit once their supervisor is gone
            self.process.wait(10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
