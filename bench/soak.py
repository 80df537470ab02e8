"""Soak and load: many calls in one agent process, as a server that runs for days sees them.

  python3 bench/soak.py                              # 200 calls each way, then 20 at once (about 45 min)
  python3 bench/soak.py --calls 12 --concurrent 5    # a quick run
  python3 bench/soak.py --mode local --calls 30 --trace-memory   # what the memory that grew is
  python3 bench/soak.py --calls 0 --concurrent 0 --anchor 20      # only `pipecat init`'s bot, 20 calls

Soak: one agent process per serving mode takes --calls calls one after another, each a short
conversation (the greeting, one question, the reply, hang-up). The Pipecat Cloud way is
tests/pipecat_cloud_host.py (the base image's /ws and /readyz), the local way pipecat's development
runner (`python bot.py -t twilio`). Each checkpoint (before the first call, after call 10, after the
last) is read once the process has settled: RSS, descriptors (TCP sockets by peer), threads, asyncio
tasks, and the live objects of pipecat and the SDKs, with the pipelines of ended calls among them.
Load: --concurrent calls at once in one local process, each the same conversation: how many were
greeted, answered and ended, the greeting and reply latencies, and the longest hole in the bot's audio.
--anchor N soaks the anchor of bench/run.py, a `pipecat init` Twilio bot, with N calls, locally.

Descriptors and threads are read from /proc. Tasks and objects can only be counted inside: the
agent's server runs under this script's agent side (`soak.py agent-side ARGS`), which runs
`python ARGS` unchanged and answers GET /counts on $SOAK_COUNTS_PORT from a thread of its own.
Like bench/run.py it runs itself inside .venv-test, uses the generated agent's fakes and fake caller,
prints figures, and asserts only that the calls worked: a failed call is reported, and it exits 1.
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from projects import (
    ANCHOR_PATCH_NOTE,
    ROOT,
    Server,
    export_template,
    free_port,
    generate_anchor,
    generate_ours,
    inside_test_env,
    patch_anchor,
    progress,
    serve,
)

AGENT_SIDE = "agent-side"
QUESTION = "What time do you open tomorrow?"  # what the fake speech-to-text hears in question.wav
# As in bench/run.py: the agent's harness shortens these for its failure tests; here they are the defaults.
TEST_ONLY_SETTINGS = ("REPLY_TIMEOUT_SECS", "TWILIO_API_TIMEOUT_SECS")
EARLY_CHECKPOINT = 10  # by then the first calls' one-time costs (model arenas, lazy imports) are paid
SETTLE_SECS = 3.0  # after a call ended, before a checkpoint is read
CALL_TIMEOUT_SECS = 90
END_TIMEOUT_SECS = 20  # the caller hung up -> the agent logs "Call ... ended"
TRACE_FRAMES = 12  # enough to see which call path allocated
RSS_MARKS = (1, 2, 5, 10, 20, 30, 50, 70, 100, 150, 200, 300, 500)
PIPELINE = "pipecat.pipeline.worker.PipelineWorker"
SERVED = {
    "cloud": "the Pipecat Cloud way (tests/pipecat_cloud_host.py)",
    "local": "locally (bot.py -t twilio)",
    "anchor": "`pipecat init`'s bot, locally (bot.py -t twilio)",
}
# Each kind of call has CallSids of its own: CA1..., CA2..., and so on.
SID_KIND = {"cloud": 1, "local": 2, "load": 3, "anchor": 4}


def main() -> None:
    if sys.argv[1:2] == [AGENT_SIDE]:
        agent_side(sys.argv[2:])
        return
    args = parse_args()
    inside_test_env(Path(__file__))
    workdir = Path(tempfile.mkdtemp(prefix="pipecat-soak-"))
    started = time.monotonic()
    try:
        failures = run(args, workdir)
    finally:
        if args.keep:
            progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"wall time: {time.monotonic() - started:.0f} s")
    if failures:
        print(f"{len(failures)} call(s) failed:")
        print("\n".join(f"  {failure}" for failure in failures))
        sys.exit(1)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200, help="sequential calls per serving mode")
    parser.add_argument(
        "--concurrent", type=int, default=20, help="calls at once in the load run; 0 skips it"
    )
    parser.add_argument("--mode", choices=["cloud", "local", "both"], default="both", help="soak serving")
    parser.add_argument(
        "--anchor", type=int, default=0, metavar="CALLS", help="also soak `pipecat init`'s bot, locally"
    )
    parser.add_argument(
        "--trace-memory",
        action="store_true",
        help="trace Python allocations from call 10 on; print those still alive after the last",
    )
    parser.add_argument(
        "--template", metavar="REVISION|FOLDER", help="measure this commit or folder, not the working tree"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated agent and the server logs")
    args = parser.parse_args()
    if min(args.calls, args.concurrent, args.anchor) < 0:
        parser.error("--calls, --concurrent and --anchor count calls: 0 or more")
    return args


@dataclass
class Bench:
    """The generated agent, the fakes it talks to, and what its callers say."""

    agent_dir: Path
    env: dict[str, str]
    fakes: object  # the agent's tests.harness.Fakes
    question: bytes
    peers: dict[int, str]  # port -> the fake listening there


def run(args: argparse.Namespace, workdir: Path) -> list[str]:
    template = ROOT
    if args.template:
        folder = Path(args.template)
        template = folder if folder.is_dir() else export_template(args.template, workdir)
    progress(f"generating the default agent from {args.template or 'the working tree'}")
    agent_dir, _ = generate_ours(template, workdir)
    sys.path.insert(0, str(agent_dir))
    from calls import connect_calls_through
    from tests.fakes.background import BackgroundServers
    from tests.fakes.twilio_caller import read_wav
    from tests.harness import DEVELOPER_SETTINGS, start_fakes

    servers = BackgroundServers()
    fakes = start_fakes(servers)
    connect_calls_through(fakes.twilio)  # the agent asks Twilio about each call: the fake knows them
    env = {key: value for key, value in os.environ.items() if not key.endswith(DEVELOPER_SETTINGS)}
    env.update({key: value for key, value in fakes.env.items() if key not in TEST_ONLY_SETTINGS})
    question = read_wav(agent_dir / "tests" / "audio" / "question.wav")
    bench = Bench(agent_dir, env, fakes, question, peer_names(fakes.env))
    failures: list[str] = []
    try:
        modes = ["cloud", "local"] if args.mode == "both" else [args.mode]
        for mode in modes if args.calls else []:
            result = soak(bench, mode, args.calls, args.trace_memory)
            print(result.report(), flush=True)
            failures += result.failures
        if args.anchor:
            anchor_dir, _ = generate_anchor(workdir)
            patch_anchor(anchor_dir)
            result = soak(replace(bench, agent_dir=anchor_dir), "anchor", args.anchor, args.trace_memory)
            print(result.report(), flush=True)
            print(f"  ({ANCHOR_PATCH_NOTE})", flush=True)
            failures += result.failures
        if args.concurrent:
            result = load(bench, args.concurrent)
            print(result.report(), flush=True)
            failures += result.failures
    finally:
        servers.close()
    return failures


# ---------------------------------------------------------------------------------------------------
# The agent's server, seen from outside


@dataclass
class CountedServer:
    """An agent server running under the agent side, which counts what only the inside can see."""

    server: Server
    counts_port: int

    def counts(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.counts_port}/counts", timeout=60) as answer:
            return json.load(answer)

    def snapshot_memory(self, path: Path) -> None:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.counts_port}/snapshot?path={path}", timeout=120):
            pass


def start_agent(bench: Bench, mode: str) -> CountedServer:
    from tests.harness import server_command

    counts_port = free_port()
    env = {**bench.env, "SOAK_COUNTS_PORT": str(counts_port)}
    script = str(Path(__file__).resolve())
    serving = "cloud" if mode == "cloud" else "local"  # the anchor is served locally
    server = serve(
        bench.agent_dir,
        env,
        f"soak-{mode}",
        lambda port: [script, AGENT_SIDE, *server_command(serving, port)],
    )
    if mode == "cloud":
        wait_until_ready(server)
    return CountedServer(server, counts_port)


def wait_until_ready(server: Server, timeout: float = 60) -> None:
    """Pipecat Cloud routes calls to an agent once its /readyz answers 200: the warm-up has run."""
    ready_url = server.url.replace("ws://", "http://").removesuffix("/ws") + "/readyz"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(ready_url, timeout=5):
                return
        except OSError:  # 503 until the warm-up is done, or not listening yet
            time.sleep(0.1)
    raise TimeoutError(f"the agent was not ready within {timeout}s:\n{server.log_tail()}")


def peer_names(fake_env: dict[str, str]) -> dict[int, str]:
    names = {}
    for key, name in (
        ("DEEPGRAM_BASE_URL", "deepgram"),
        ("OPENAI_BASE_URL", "openai"),
        ("CARTESIA_BASE_URL", "cartesia"),
        ("TWILIO_API_BASE_URL", "twilio-rest"),
    ):
        if match := re.search(r"//[^/:]+:(\d+)", fake_env.get(key, "")):
            names[int(match.group(1))] = name
    return names


@dataclass
class Checkpoint:
    """The agent process at rest: no call in progress, SETTLE_SECS after the last one ended."""

    rss_mb: float
    descriptors: int
    sockets: Counter  # "peer STATE" -> count
    threads: int  # OS threads, onnxruntime's among them
    python_threads: Counter  # name -> count
    tasks: Counter  # coroutine name -> count
    objects: Counter  # class -> live instances, for pipecat's and the SDKs' classes

    def line(self) -> str:
        return (
            f"RSS {self.rss_mb:.1f} MB, {self.descriptors} descriptors ({sum(self.sockets.values())} TCP),"
            f" {self.threads} threads, {sum(self.tasks.values())} asyncio tasks,"
            f" {self.objects[PIPELINE]} call pipelines in memory"
        )


def checkpoint(agent: CountedServer, peers: dict[int, str]) -> Checkpoint:
    time.sleep(SETTLE_SECS)
    server = agent.server
    agent_port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    own = {agent_port: "agent", agent.counts_port: "counts"}
    sockets = Counter()
    for tcp in server.tcp_sockets():
        if tcp.local_port in own:
            name = f"{own[tcp.local_port]} listening" if tcp.state == "LISTEN" else "caller"
        else:
            name = peers.get(tcp.remote_port, f"port {tcp.remote_port}")
        sockets[f"{name} {tcp.state}"] += 1
    inside = agent.counts()
    return Checkpoint(
        rss_mb=server.memory_mb("VmRSS"),
        descriptors=len(server.descriptors()),
        sockets=sockets,
        threads=len(server.thread_names()),
        python_threads=Counter(inside["threads"]),
        tasks=Counter(inside["tasks"]),
        objects=Counter(inside["objects"]),
    )


def changes(label: str, before: Counter, after: Counter, top: int = 8) -> str:
    grown = {key: after[key] - before[key] for key in before | after if after[key] != before[key]}
    if not grown:
        return f"    {label}: unchanged"
    ordered = sorted(grown.items(), key=lambda item: (-abs(item[1]), item[0]))
    shown = ", ".join(f"{key} {change:+d}" for key, change in ordered[:top])
    more = f" (and {len(ordered) - top} more)" if len(ordered) > top else ""
    return f"    {label}: {shown}{more}"


def outcome(failures: list[str], problems: list[str]) -> str:
    lines = [f"  calls failed: {len(failures)}; ERROR or Traceback lines in the agent's log: {len(problems)}"]
    return "\n".join(lines + [f"    {line[:200]}" for line in problems[:5]])


def ended_calls(server: Server) -> set[str]:
    return set(re.findall(r"Call (\S+) ended", server.log_path.read_text()))


def log_problems(server: Server) -> list[str]:
    lines = server.log_path.read_text().splitlines()
    return [line for line in lines if "| ERROR" in line or "Traceback" in line]


def finished_runs(server: Server) -> int:
    """pipecat's runner logs this once per pipeline it ran: the anchor's calls, which log no CallSid."""
    return server.log_path.read_text().count("': finished running")


def wait_for_end(server: Server, call_sid: str, runs_at_least: int | None = None) -> None:
    """Until our agent logs "Call CALL_SID ended", or for the anchor until pipecat's runner has
    finished `runs_at_least` pipelines."""
    deadline = time.monotonic() + END_TIMEOUT_SECS
    while (
        call_sid not in ended_calls(server)
        if runs_at_least is None
        else finished_runs(server) < runs_at_least
    ):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the bot did not log the end of call {call_sid} within {END_TIMEOUT_SECS}s")
        time.sleep(0.05)


def call_sid(kind: int, number: int) -> str:
    """A CallSid of its own for each call, so the fake REST API and the log tell the calls apart."""
    return f"CA{kind}{number:031d}"


# ---------------------------------------------------------------------------------------------------
# Soak: sequential calls


@dataclass
class SoakResult:
    mode: str
    calls: int
    rss_after_call: list[float]  # read right after each call ended
    before: Checkpoint
    early: Checkpoint | None  # after call EARLY_CHECKPOINT, when there are more calls
    after: Checkpoint
    failures: list[str]
    log_problems: list[str]
    memory_growth: list[str]  # with --trace-memory

    def report(self) -> str:
        lines = [f"soak, served {SERVED[self.mode]}: {self.calls} sequential calls in one process"]
        lines.append(f"  before the first call: {self.before.line()}")
        compared = [("before the first call", self.before)]
        if self.early:
            lines.append(f"  after call {EARLY_CHECKPOINT}: {self.early.line()}")
            compared.append((f"after call {EARLY_CHECKPOINT}", self.early))
        lines.append(f"  after call {self.calls}: {self.after.line()}")
        if self.early:
            growth = self.after.rss_mb - self.early.rss_mb
            lines.append(f"  RSS growth from call {EARLY_CHECKPOINT} to call {self.calls}: {growth:+.1f} MB")
        marks = sorted({n for n in RSS_MARKS if n <= len(self.rss_after_call)} | {len(self.rss_after_call)})
        shown = ", ".join(f"{n}: {self.rss_after_call[n - 1]:.1f}" for n in marks if n)
        lines.append(f"  RSS (MB) right after call n: {shown}")
        for name, base in compared:
            lines.append(f"  from {name} to after call {self.calls}:")
            lines.append(f"    OS threads: {base.threads} -> {self.after.threads}")
            lines.append(changes("TCP sockets", base.sockets, self.after.sockets))
            lines.append(changes("Python threads", base.python_threads, self.after.python_threads))
            lines.append(changes("asyncio tasks", base.tasks, self.after.tasks))
            lines.append(changes("live objects", base.objects, self.after.objects))
        lines.append(outcome(self.failures, self.log_problems))
        if self.memory_growth:
            lines.append(f"  tracemalloc, what grew from call {EARLY_CHECKPOINT} to call {self.calls}:")
            lines += [f"    {line}" for line in self.memory_growth]
        return "\n".join(lines)


def soak(bench: Bench, mode: str, calls: int, trace_memory: bool) -> SoakResult:
    from calls import greet_ask_and_listen

    progress(f"soak, {mode}: starting the agent")
    agent = start_agent(bench, mode)
    server = agent.server
    failures, rss, early, growth = [], [], None, []
    snapshot = {n: bench.agent_dir / f"soak-{mode}-{n}.tracemalloc" for n in (EARLY_CHECKPOINT, calls)}
    try:
        before = checkpoint(agent, bench.peers)
        runs_before = finished_runs(server)
        progress(f"soak, {mode}: before the first call: {before.line()}")
        for number in range(1, calls + 1):
            sid = call_sid(SID_KIND[mode], number)
            bench.fakes.reset()
            bench.fakes.caller_will_say(QUESTION)
            try:
                call = greet_ask_and_listen(server.url, bench.question, sid)
                asyncio.run(asyncio.wait_for(call, CALL_TIMEOUT_SECS))
                wait_for_end(server, sid, runs_before + number if mode == "anchor" else None)
            except Exception as error:
                failures.append(f"{mode} call {number} ({sid}): {type(error).__name__}: {error}")
                progress(failures[-1])
                if server.process.poll() is not None:
                    progress(f"the agent exited:\n{server.log_tail()}")
                    break
            rss.append(server.memory_mb("VmRSS"))
            if number == EARLY_CHECKPOINT and calls > EARLY_CHECKPOINT:
                early = checkpoint(agent, bench.peers)
                if trace_memory:
                    agent.snapshot_memory(snapshot[number])
                progress(f"soak, {mode}: after call {number}: {early.line()}")
            elif number % 10 == 0:
                progress(f"soak, {mode}: {number}/{calls} calls, RSS {rss[-1]:.1f} MB")
        after = checkpoint(agent, bench.peers)
        if trace_memory and early:
            agent.snapshot_memory(snapshot[calls])
            growth = memory_growth(snapshot[EARLY_CHECKPOINT], snapshot[calls])
        problems = log_problems(server)
    except Exception:
        progress(f"soak, {mode}: agent log:\n{server.log_tail()}")
        raise
    finally:
        server.stop()
    return SoakResult(mode, calls, rss, before, early, after, failures, problems, growth)


def memory_growth(first: Path, last: Path, top: int = 15) -> list[str]:
    """The call paths whose live Python allocations grew most between two tracemalloc snapshots."""
    import tracemalloc

    ignored = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen *>")]
    old = tracemalloc.Snapshot.load(str(first)).filter_traces(ignored)
    new = tracemalloc.Snapshot.load(str(last)).filter_traces(ignored)
    stats = new.compare_to(old, "traceback")
    lines = []
    for stat in stats[:top]:
        # Where it was allocated, then each caller.
        where = [f"{Path(frame.filename).name}:{frame.lineno}" for frame in reversed(stat.traceback)]
        frames = " < ".join(where)
        lines.append(f"{stat.size_diff / 1024:+.0f} KiB in {stat.count_diff:+d} blocks: {frames}")
    lines.append(f"all traced: {sum(stat.size_diff for stat in stats) / 1024**2:+.2f} MiB")
    return lines


# ---------------------------------------------------------------------------------------------------
# Load: concurrent calls


@dataclass
class LoadResult:
    calls: int
    greet_latencies: list[float]  # `start` sent -> first bot media
    reply_latencies: list[float]  # the caller's last voiced frame -> first media of the reply
    max_hole: float
    max_interval: float
    ended: int
    failures: list[str]
    log_problems: list[str]

    def report(self) -> str:
        def spread(values: list[float]) -> str:
            if not values:
                return "n/a"
            return f"median {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"

        greeted, answered = len(self.greet_latencies), len(self.reply_latencies)
        counted = f"greeted {greeted}/{self.calls}, answered {answered}/{self.calls}"
        return "\n".join(
            [
                f"load: {self.calls} concurrent calls in one local process (bot.py -t twilio)",
                f"  {counted}, 'Call ... ended' logged {self.ended}/{self.calls}",
                f"  greet latency (`start` sent -> first bot media): {spread(self.greet_latencies)}",
                f"  reply latency (end of speech -> first reply media): {spread(self.reply_latencies)}",
                f"  longest hole in the bot's audio inside an utterance: {self.max_hole * 1000:.0f} ms"
                f" (longest wait between two media frames: {self.max_interval * 1000:.0f} ms)",
                outcome(self.failures, self.log_problems),
            ]
        )


def load(bench: Bench, count: int) -> LoadResult:
    from calls import CallTimings, greet_ask_and_listen

    progress(f"load: {count} calls at once")
    agent = start_agent(bench, "local")
    server = agent.server
    sids = [call_sid(SID_KIND["load"], number) for number in range(1, count + 1)]
    bench.fakes.reset()
    bench.fakes.caller_will_say(*[QUESTION] * count)

    async def all_at_once() -> list:
        calls = [greet_ask_and_listen(server.url, bench.question, sid) for sid in sids]
        timed = [asyncio.wait_for(call, CALL_TIMEOUT_SECS) for call in calls]
        return await asyncio.gather(*timed, return_exceptions=True)

    try:
        results = asyncio.run(all_at_once())
        deadline = time.monotonic() + END_TIMEOUT_SECS
        while not set(sids) <= ended_calls(server) and time.monotonic() < deadline:
            time.sleep(0.1)
        ended = set(sids) & ended_calls(server)
        problems = log_problems(server)
    finally:
        server.stop()
    timings = [result for result in results if isinstance(result, CallTimings)]
    failures = [
        f"load call {sid}: {type(result).__name__}: {result}"
        for sid, result in zip(sids, results, strict=True)
        if not isinstance(result, CallTimings)
    ]
    failures += [f"load call {sid}: 'Call {sid} ended' never logged" for sid in sorted(set(sids) - ended)]
    return LoadResult(
        calls=count,
        greet_latencies=[timing.first_audio for timing in timings],
        reply_latencies=[timing.turn_latency for timing in timings],
        max_hole=max((timing.max_hole for timing in timings), default=0.0),
        max_interval=max((timing.max_interval for timing in timings), default=0.0),
        ended=len(ended),
        failures=failures,
        log_problems=problems,
    )


# ---------------------------------------------------------------------------------------------------
# The agent side: runs inside the agent's process


def agent_side(arguments: list[str]) -> None:
    """Runs `python ARGUMENTS` (a script, or `-m module ...`) unchanged, with the counter beside it."""
    import runpy
    import threading

    loops = note_serving_loop()
    threading.Thread(target=serve_counts, args=(loops,), name="soak-counts", daemon=True).start()
    # What `python ARGUMENTS` would see: sys.path[0] and sys.argv as the interpreter sets them.
    if arguments[0] == "-m":
        sys.path[0] = os.getcwd()
        sys.argv = [arguments[1], *arguments[2:]]
        runpy.run_module(arguments[1], run_name="__main__", alter_sys=True)
    else:
        script = Path(arguments[0]).resolve()
        sys.path[0] = str(script.parent)
        sys.argv = [str(script), *arguments[1:]]
        runpy.run_path(str(script), run_name="__main__")


def note_serving_loop() -> list[asyncio.AbstractEventLoop]:
    """Both serving modes run uvicorn, whose Server.serve() runs on the event loop that serves the calls."""
    import uvicorn

    loops: list[asyncio.AbstractEventLoop] = []
    serve_calls = uvicorn.Server.serve

    async def serve_and_note(self, *args, **kwargs):
        loops.append(asyncio.get_running_loop())
        return await serve_calls(self, *args, **kwargs)

    uvicorn.Server.serve = serve_and_note
    return loops


def serve_counts(loops: list[asyncio.AbstractEventLoop]) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from urllib.parse import parse_qs, urlparse

    def on_loop(coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, loops[-1]).result(60) if loops else {}

    class Counts(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            url = urlparse(self.path)
            if url.path == "/snapshot":
                import tracemalloc

                path = parse_qs(url.query)["path"][0]
                # Traced from the first snapshot on: from the start, the warm-up would not finish in time.
                if not tracemalloc.is_tracing():
                    tracemalloc.start(TRACE_FRAMES)
                tracemalloc.take_snapshot().dump(path)
                answer = {"saved": path}
            else:
                answer = {
                    "tasks": on_loop(count_tasks()),
                    "objects": on_loop(count_objects()),
                    "threads": Counter(re.sub(r"\d+", "N", thread.name) for thread in threading.enumerate()),
                }
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args) -> None:
            pass  # the agent's log is the agent's

    HTTPServer(("127.0.0.1", int(os.environ["SOAK_COUNTS_PORT"])), Counts).serve_forever()


async def count_tasks() -> dict[str, int]:
    """The serving loop's tasks, but this one, by coroutine name."""
    current = asyncio.current_task()
    names = Counter()
    for task in asyncio.all_tasks():
        if task is not current:
            coroutine = task.get_coro()
            names[getattr(coroutine, "__qualname__", type(coroutine).__name__)] += 1
    return dict(names)


async def count_objects() -> dict[str, int]:
    """Live instances of the classes calls create (pipelines, services, SDK clients), by class.

    On the event loop, so that no call changes them meanwhile. Objects the warm-up froze (gc.freeze)
    are not listed by gc.get_objects(): what it counts came later.
    """
    import gc

    wanted = ("pipecat.", "openai.", "httpx.", "httpcore.", "aiohttp.", "websockets.", "deepgram.", "anyio.")
    names = Counter()
    for thing in gc.get_objects():
        kind = type(thing)
        module = getattr(kind, "__module__", None)  # not always a string on extension types
        if isinstance(module, str) and module.startswith(wanted):
            names[f"{module}.{kind.__qualname__}"] += 1
    return dict(names)


if __name__ == "__main__":
    main()
