"""The two bots under test: how each is generated, pointed at the fakes, and served."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import venv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV_DIR = ROOT / ".venv-test"
BIN = ENV_DIR / "bin"
PROBE = Path(__file__).with_name("probe.py")
BASE_IMAGE = Path(__file__).with_name("base_image.py")

ANCHOR_INIT = [
    *("pipecat", "init", "anchor", "--no-context-hub", "--bot-type", "telephony", "--transport", "twilio"),
    *("--mode", "cascade", "--stt", "deepgram_stt", "--llm", "openai_llm", "--tts", "cartesia_tts"),
]
# The only edits to the benchmark's copy of the anchor's bot.py, each (original, replacement): its
# Deepgram, Cartesia and Twilio REST endpoints are fixed in code, and the fakes live on loopback.
# OpenAI needs no edit: the openai SDK reads OPENAI_BASE_URL. The variables are the ones our agent reads.
ANCHOR_PATCHES = [
    (
        'DeepgramSTTService(api_key=os.getenv("DEEPGRAM_API_KEY"))',
        'DeepgramSTTService(api_key=os.getenv("DEEPGRAM_API_KEY"), base_url=os.environ["DEEPGRAM_BASE_URL"])',
    ),
    (
        'api_key=os.getenv("CARTESIA_API_KEY"),',
        'api_key=os.getenv("CARTESIA_API_KEY"), url=os.environ["CARTESIA_BASE_URL"],',
    ),
    ("https://api.twilio.com/2010-04-01", "{os.environ['TWILIO_API_BASE_URL']}/2010-04-01"),
]
ANCHOR_PATCH_NOTE = (
    "anchor patch (benchmark's copy of bot.py only): DeepgramSTTService(base_url=$DEEPGRAM_BASE_URL), "
    "CartesiaTTSService(url=$CARTESIA_BASE_URL), get_call_info's Twilio REST host -> $TWILIO_API_BASE_URL; "
    "OpenAI via OPENAI_BASE_URL, which the openai SDK reads (no patch)"
)
# pipeline=realtime: the same comparison with `pipecat init`'s OpenAI Realtime Twilio bot.
REALTIME_ANCHOR_INIT = [
    *("pipecat", "init", "anchor", "--no-context-hub", "--bot-type", "telephony", "--transport", "twilio"),
    *("--mode", "realtime", "--realtime", "openai_realtime"),
]
REALTIME_ANCHOR_PATCHES = [
    (
        'OpenAIRealtimeLLMService(\n        api_key=os.getenv("OPENAI_API_KEY"),',
        'OpenAIRealtimeLLMService(\n        api_key=os.getenv("OPENAI_API_KEY"),'
        ' base_url=os.environ["OPENAI_REALTIME_BASE_URL"],',
    ),
    ANCHOR_PATCHES[-1],  # the Twilio REST host
]
REALTIME_ANCHOR_PATCH_NOTE = (
    "anchor patch (benchmark's copy of bot.py only): OpenAIRealtimeLLMService("
    "base_url=$OPENAI_REALTIME_BASE_URL), get_call_info's Twilio REST host -> $TWILIO_API_BASE_URL"
)
ANCHORS = {
    "cascade": (ANCHOR_INIT, ANCHOR_PATCHES, ANCHOR_PATCH_NOTE),
    "realtime": (REALTIME_ANCHOR_INIT, REALTIME_ANCHOR_PATCHES, REALTIME_ANCHOR_PATCH_NOTE),
}


def progress(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def inside_test_env(script: Path) -> None:
    """Runs `script` again inside .venv-test unless it runs there, with that env's tools on PATH."""
    if Path(sys.prefix).resolve() != ENV_DIR.resolve():
        enter_test_env(script)
    # The hooks find ruff and hadolint on PATH, and `pipecat` is the CLI installed beside them.
    os.environ["PATH"] = f"{ENV_DIR / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ["VIRTUAL_ENV"] = str(ENV_DIR)


def enter_test_env(script: Path) -> None:
    """The setup steps of tests/run.py, then `script` again inside .venv-test, with the same arguments."""
    if not (BIN / "python").exists():
        progress(f"creating {ENV_DIR.name}")
        venv.EnvBuilder(with_pip=True).create(ENV_DIR)
    if not (BIN / "uv").exists():
        progress("installing uv")
        subprocess.run([BIN / "python", "-m", "pip", "install", "--quiet", "uv"], cwd=ROOT, check=True)
    progress("installing the test dependencies")
    install = [BIN / "uv", "pip", "install", "--quiet", "--python", BIN / "python", "--group", "test"]
    subprocess.run(install, cwd=ROOT, check=True)
    os.execv(BIN / "python", [str(BIN / "python"), str(script), *sys.argv[1:]])


def timed_run(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return elapsed


def export_template(revision: str, workdir: Path) -> Path:
    """The template as committed at `revision`, so a run can measure a fixed version, not the working tree."""
    target = workdir / f"template-{revision}"
    target.mkdir()
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def generate_ours(template: Path, workdir: Path, pipeline: str = "cascade") -> tuple[Path, float]:
    """Our default agent (for `pipeline`), rendered, checked and linted by the template's hooks; returns
    (agent, seconds)."""
    output = Path(tempfile.mkdtemp(dir=workdir, prefix="ours-"))
    # Keep the user's ~/.cookiecutter_replay untouched: the replay of a benchmark run is not theirs.
    config = output / "cookiecutter.yaml"
    config.write_text(f"cookiecutters_dir: {output / 'cookiecutters'}\nreplay_dir: {output / 'replay'}\n")
    command = ["cookiecutter", str(template), "--no-input", "-o", str(output), "--config-file", str(config)]
    command += [] if pipeline == "cascade" else [f"pipeline={pipeline}"]
    seconds = timed_run(command, output)
    agent_dir = next(path for path in output.iterdir() if (path / "bot.py").exists())
    return agent_dir, seconds


def generate_anchor(workdir: Path, pipeline: str = "cascade") -> tuple[Path, float]:
    """A `pipecat init` Twilio bot with the same providers; returns (its server folder, seconds)."""
    output = Path(tempfile.mkdtemp(dir=workdir, prefix="anchor-"))
    seconds = timed_run(ANCHORS[pipeline][0], output)
    return output / "anchor" / "server", seconds


def patch_anchor(server_dir: Path, pipeline: str = "cascade") -> None:
    bot_file = server_dir / "bot.py"
    source = bot_file.read_text()
    for original, replacement in ANCHORS[pipeline][1]:
        if source.count(original) != 1:
            raise RuntimeError(f"the anchor's bot.py changed: {original!r} is not there exactly once")
        source = source.replace(original, replacement)
    bot_file.write_text(source)


@dataclass
class Server:
    """One bot served by pipecat's development runner, `python bot.py -t twilio`, under bench/probe.py."""

    process: subprocess.Popen
    url: str
    cold_start: float
    events_path: Path
    log_path: Path

    def events(self, name: str) -> list[dict]:
        lines = self.events_path.read_text().splitlines()
        return [event for event in map(json.loads, lines) if event["event"] == name]

    def memory_mb(self, field: str) -> float:
        """A /proc/PID/status memory field in MB: VmRSS now, or VmHWM, the peak RSS so far."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise KeyError(field)

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server has used so far (/proc/PID/stat fields 14 and 15)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self) -> str:
        return self.log_path.read_text()[-3000:]

    def descriptors(self) -> list[str]:
        """What each open descriptor is: `socket:[inode]`, `pipe:[inode]`, `anon_inode:[eventfd]`, a path."""
        found = []
        for fd in Path(f"/proc/{self.process.pid}/fd").iterdir():
            try:
                found.append(os.readlink(fd))
            except FileNotFoundError:  # closed while being listed
                pass
        return found

    def thread_names(self) -> list[str]:
        names = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            try:
                names.append((task / "comm").read_text().strip())
            except FileNotFoundError:  # ended while being listed
                pass
        return names

    def tcp_sockets(self) -> list["TcpSocket"]:
        """The server's open TCP sockets, from /proc/PID/net/tcp{,6} matched to its descriptors."""
        inodes = {link[len("socket:[") : -1] for link in self.descriptors() if link.startswith("socket:[")}
        sockets = []
        for table in ("tcp", "tcp6"):
            rows = Path(f"/proc/{self.process.pid}/net/{table}").read_text().splitlines()[1:]
            for row in rows:
                fields = row.split()
                if fields[9] in inodes:
                    local, remote = (int(address.rsplit(":", 1)[1], 16) for address in fields[1:3])
                    sockets.append(TcpSocket(TCP_STATES.get(fields[3], fields[3]), local, remote))
        return sockets

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class TcpSocket:
    state: str
    local_port: int
    remote_port: int


# The kernel's TCP states as /proc/net/tcp numbers them (include/net/tcp_states.h).
TCP_STATES = {"01": "ESTABLISHED", "06": "TIME_WAIT", "08": "CLOSE_WAIT", "0A": "LISTEN"}


def probed_bot(port: int) -> list[str]:
    """`python bot.py -t twilio` on `port`, under bench/probe.py."""
    return [str(PROBE), "bot.py", "-t", "twilio", "--host", "127.0.0.1", "--port", str(port)]


def serve(
    bot_dir: Path, env: dict[str, str], name: str, arguments: Callable[[int], list[str]] = probed_bot
) -> Server:
    """Starts the bot's server, `python ARGUMENTS(port)` in its folder; cold start = process start
    until its port accepts connections."""
    port = free_port()
    events_path = bot_dir / f"bench-{name}-{port}.events.jsonl"
    log_path = bot_dir / f"bench-{name}-{port}.log"
    command = [sys.executable, *arguments(port)]
    with open(log_path, "w") as log:
        started = time.monotonic()
        process = subprocess.Popen(
            command,
            cwd=bot_dir,
            env={**env, "BENCH_EVENTS": str(events_path)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    while not port_open(port):
        if process.poll() is not None:
            raise RuntimeError(f"{name} server exited early:\n{log_path.read_text()[-3000:]}")
        if time.monotonic() - started > 60:
            process.kill()
            raise TimeoutError(f"{name} server did not listen within 60 s")
        time.sleep(0.005)
    cold_start = time.monotonic() - started
    return Server(process, f"ws://127.0.0.1:{port}/ws", cold_start, events_path, log_path)


def time_until_ready(bot_dir: Path, env: dict[str, str]) -> float:
    """Seconds from the process's start until GET /readyz answers 200, served as the base image serves it."""
    port = free_port()
    log_path = bot_dir / f"bench-ready-{port}.log"
    with open(log_path, "w") as log:
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, str(BASE_IMAGE), "--port", str(port)],
            cwd=bot_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        while not ready(port):
            if process.poll() is not None:
                log_tail = log_path.read_text()[-3000:]
                raise RuntimeError(f"{bot_dir.name} exited before it was ready:\n{log_tail}")
            if time.monotonic() - started > 60:
                raise TimeoutError(f"{bot_dir.name} was not ready within 60 s")
            time.sleep(0.005)
        return time.monotonic() - started
    finally:
        process.terminate()
        process.wait(10)


def readyz_status(port: int) -> int | None:
    """GET /readyz's status code (a 503 included), or None while nothing listens on `port`."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def ready(port: int) -> bool:
    return readyz_status(port) == 200


def wait_until_ready(server: Server, timeout: float = 60) -> None:
    """Until the served bot's GET /readyz answers 200, or 404 from a server with no /readyz (the anchor
    under pipecat's runner), so that an idle or first-call figure is not taken during a warm-up."""
    port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    started = time.monotonic()
    while readyz_status(port) not in (200, 404):
        if server.process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited before it was ready:\n{server.log_tail()}")
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"the server on port {port} was not ready within {timeout:g} s")
        time.sleep(0.005)


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
