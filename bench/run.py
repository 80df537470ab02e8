"""Benchmarks our default agent against the anchor, a `pipecat init` Twilio bot with the same providers.

  python3 bench/run.py              # 5 runs and 1 search of each concurrency kind per bot
  python3 bench/run.py --quick      # 1 run, 1 search up to 2 calls: a smoke test
  python3 bench/run.py --searches 2  # as in bench/RESULTS.md: 15 minutes on 2 cores
  python3 bench/run.py --runs 9 --searches 3 --max-calls 32
  python3 bench/run.py --pipeline realtime  # pipeline=realtime against pipecat init's realtime bot
  python3 bench/run.py --searches 0         # no concurrency searches: the per-call figures only

Like tests/run.py, it creates .venv-test, installs uv and the `test` dependency group, and then runs
itself inside that environment. Both bots are generated fresh, served by pipecat's development runner
with the same local fakes of Deepgram, OpenAI, Cartesia and Twilio REST (from the generated agent's
tests), and called by the same fake Twilio caller. It prints a table of median, min and max; it
reports figures and asserts nothing. A cascade run then measures the speech-to-speech pair the same way,
without the concurrency searches, and prints its table below.
"""

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from projects import (
    ANCHORS,
    export_template,
    generate_anchor,
    generate_ours,
    inside_test_env,
    patch_anchor,
    progress,
    serve,
    time_until_ready,
    wait_until_ready,
)

ROOT = Path(__file__).resolve().parents[1]
# What the fake speech-to-text hears in tests/audio/question.wav.
QUESTION = "What time do you open tomorrow?"
# Settings the agent's harness shortens for its failure tests; the benchmark runs with the defaults.
TEST_ONLY_SETTINGS = ("REPLY_TIMEOUT_SECS", "TWILIO_API_TIMEOUT_SECS")
IDLE_SETTLE_SECS = 1.0
# The CPU cost of a call in progress, measured with this many callers on the line in silence.
LISTENING_CALLS, LISTENING_SECS = 10, 8.0

# (key, label, unit): one table row each. Times are kept in seconds and shown in ms.
ROWS = [
    ("generation", "generation (validated project)", "ms"),
    ("cold_start", "cold start (process -> WebSocket accepted)", "ms"),
    ("cold_start_source", "  the same, no bytecode (compiled from source)", "ms"),
    ("ready", "ready on Pipecat Cloud (process -> readyz() true)", "ms"),
    ("call_setup", "call setup (bot() -> pipeline running)", "ms"),
    ("first_audio", "first audio (`start` -> first bot media)", "ms"),
    ("turn_latency", "turn latency (end of speech -> reply media)", "ms"),
    ("turn_window", "  VAD stop_secs window", "ms"),
    ("turn_inference", "  smart-turn inference", "ms"),
    ("turn_overhead", "  overhead (latency - window - inference)", "ms"),
    ("vad_lag", "    speech end -> VAD stop, beyond window", "ms"),
    ("reply_lag", "    turn detected -> first reply media", "ms"),
    ("rss_idle", "RSS idle (server up, no call)", "MB"),
    ("rss_peak", "RSS peak (process high-water, 1 call)", "MB"),
    ("listening_cpu", "CPU per call, caller silent, of one core", "%"),
    ("concurrency", "concurrent calls, no hole > 60 ms in bot audio", "calls"),
    ("concurrency_arriving", "  the same, calls arriving over 2 s", "calls"),
]
# The second concurrency search: one call every 2/N s, as independent callers arrive, so each call's
# set-up and turn-taking land while other calls are speaking.
ARRIVALS_OVER_SECS = 2.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="generations and fresh-process calls per bot")
    parser.add_argument("--searches", type=int, default=1, help="concurrency searches per bot")
    parser.add_argument("--max-calls", type=int, default=64, help="each concurrency search stops here")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: --runs 1 --searches 1 --max-calls 2; CPU per call still uses 10",
    )
    parser.add_argument("--template", metavar="REVISION", help="measure this commit, not the working tree")
    parser.add_argument(
        "--pipeline",
        choices=["cascade", "realtime"],
        default="cascade",
        help="realtime: our pipeline=realtime agent against pipecat init's OpenAI Realtime bot, same fake",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated bots and server logs")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.searches, args.max_calls = 1, 1, 2
    return args


def main() -> None:
    args = parse_args()
    inside_test_env(Path(__file__))
    workdir = Path(tempfile.mkdtemp(prefix="pipecat-bench-"))
    started = time.monotonic()
    revision = template_revision(args.template)
    try:
        samples, notes = benchmark(args, workdir)
    finally:
        if args.keep:
            progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(render_table(samples))
    print()
    wall_time = f"benchmark wall time: {time.monotonic() - started:.0f} s"
    print("\n".join([*notes, revision, wall_time, machine()]), flush=True)
    if args.pipeline == "cascade":
        print("\nSpeech-to-speech: pipeline=realtime against pipecat init's realtime bot\n", flush=True)
        realtime = [sys.executable, __file__, "--pipeline", "realtime", "--searches", "0"]
        realtime += ["--runs", str(args.runs), *(["--template", args.template] if args.template else [])]
        subprocess.run(realtime, check=True)


def benchmark(args: argparse.Namespace, workdir: Path) -> tuple[dict, list[str]]:
    samples: dict[str, dict[str, list[float]]] = {"ours": defaultdict(list), "anchor": defaultdict(list)}
    template = export_template(args.template, workdir) if args.template else ROOT
    bots = generate_both(template, args.runs, workdir, samples, args.pipeline)
    # The fakes and the fake caller are our generated agent's own test harness.
    sys.path.insert(0, str(bots["ours"]))
    from tests.fakes.background import BackgroundServers
    from tests.fakes.twilio_caller import read_wav
    from tests.harness import DEVELOPER_SETTINGS, start_fakes

    question = read_wav(bots["ours"] / "tests" / "audio" / "question.wav")
    servers = BackgroundServers()
    fakes = start_fakes(servers)
    from calls import connect_calls_through

    connect_calls_through(fakes.twilio)
    env = {key: value for key, value in os.environ.items() if not key.endswith(DEVELOPER_SETTINGS)}
    env.update({key: value for key, value in fakes.env.items() if key not in TEST_ONLY_SETTINGS})
    silence_limited = defaultdict(int)
    levels = defaultdict(list)
    try:
        for name, bot_dir in bots.items():
            # One untimed start each writes the bot's .pyc files and pulls the shared venv into the page
            # cache, so neither bot's first timed run pays for that.
            serve(bot_dir, env, f"{name}-warmup").stop()
        for run in range(1, args.runs + 1):
            for name, bot_dir in bots.items():
                fakes.reset()
                fakes.caller_will_say(QUESTION)
                sample = first_call_in_fresh_process(bot_dir, env, name, question)
                sample |= starts_without_calls(bot_dir, env, name, workdir)
                silence_limited[name] += sample.pop("silence_limited")
                for key, value in sample.items():
                    samples[name][key].append(value)
                shown = ", ".join(f"{key} {value:.3f}" for key, value in sample.items())
                progress(f"{name} run {run}/{args.runs}: {shown}")
        for search in range(1, args.searches + 1):
            for name, bot_dir in bots.items():
                progress(f"{name} concurrency search {search}/{args.searches}")
                listening = cpu_per_listening_call(bot_dir, env, name, question, fakes)
                samples[name]["listening_cpu"].append(listening)
                progress(f"{name} CPU per call, caller silent: {listening:.2%} of one core")
                for key, arrivals_over in (
                    ("concurrency", 0.0),
                    ("concurrency_arriving", ARRIVALS_OVER_SECS),
                ):
                    best, tried = concurrency_search(
                        bot_dir, env, name, question, fakes, args.max_calls, arrivals_over
                    )
                    samples[name][key].append(best)
                    levels[(name, arrivals_over)].append(tried)
    finally:
        servers.close()

    notes = [
        f"{args.runs} runs per bot; each call is the first in a fresh server process, as on Pipecat Cloud,"
        " which runs one session per agent instance",
        "both bots are served by pipecat's runner (`python bot.py -t twilio`) through bench/probe.py, which"
        " times bot() entry, on_pipeline_started and smart-turn inference without changing the bots' code",
        f"pipeline: {args.pipeline}",
        ANCHORS[args.pipeline][2],
        "the fake Twilio REST knows each call the benchmark places (calls.connect_calls_through): our"
        " caller check and the anchor's get_call_info get its Call resource at once (Twilio: a round trip)",
        "fakes: the generated agent's tests/fakes (no artificial delays), one set shared by both bots;"
        " the caller speaks tests/audio/question.wav (8 kHz, 2.6 s)",
        turn_note(samples, silence_limited) if args.pipeline == "cascade" else REALTIME_TURN_NOTE,
        *concurrency_notes(levels, args.max_calls),
    ]
    return samples, notes


def generate_both(template: Path, runs: int, workdir: Path, samples: dict, pipeline: str) -> dict[str, Path]:
    """Times each generator `runs` times; returns the last bot of each, the anchor patched for the fakes."""
    for run in range(1, runs + 1):
        ours_dir, seconds = generate_ours(template, workdir, pipeline)
        samples["ours"]["generation"].append(seconds)
        anchor_dir, anchor_seconds = generate_anchor(workdir, pipeline)
        samples["anchor"]["generation"].append(anchor_seconds)
        progress(f"generation {run}/{runs}: ours {seconds:.3f} s, anchor {anchor_seconds:.3f} s")
    patch_anchor(anchor_dir, pipeline)
    progress(ANCHORS[pipeline][2])
    return {"ours": ours_dir, "anchor": anchor_dir}


def first_call_in_fresh_process(bot_dir: Path, env: dict[str, str], name: str, question: bytes) -> dict:
    from calls import greet_ask_and_listen

    server = serve(bot_dir, env, name)
    try:
        # Idle and first-call figures are taken once readyz() is true, when Pipecat Cloud routes calls to it;
        # the cold start and ready rows time the start itself.
        wait_until_ready(server)
        time.sleep(IDLE_SETTLE_SECS)
        rss_idle = server.memory_mb("VmRSS")
        timings = asyncio.run(greet_ask_and_listen(server.url, question))
        rss_peak = server.memory_mb("VmHWM")
    except Exception:
        progress(f"{name} server log:\n{server.log_tail()}")
        raise
    finally:
        server.stop()
    entered = server.events("bot_entered")[0]["at"]
    # A bot may run a pipeline of its own before serving (a warm-up): only the call's pipeline counts.
    running = next(event["at"] for event in server.events("pipeline_started") if event["at"] > entered)
    return {
        "cold_start": server.cold_start,
        "call_setup": running - entered,
        "first_audio": timings.first_audio,
        "turn_latency": timings.turn_latency,
        **turn_parts(server, timings),
        "rss_idle": rss_idle,
        "rss_peak": rss_peak,
    }


def starts_without_calls(bot_dir: Path, env: dict[str, str], name: str, workdir: Path) -> dict:
    """The cold start with nothing compiled (Python reads bytecode only under an empty PYTHONPYCACHEPREFIX,
    and writes none), and the time until readyz() is true, served as the base image serves bot.py."""
    no_bytecode = {**env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(workdir / "no-bytecode")}
    from_source = serve(bot_dir, no_bytecode, f"{name}-from-source")
    from_source.stop()
    return {"cold_start_source": from_source.cold_start, "ready": time_until_ready(bot_dir, env)}


def turn_parts(server, timings) -> dict:
    """Splits the turn latency into the VAD and smart-turn waits and the rest, from the probe's events."""
    vad = [event for event in server.events("vad_stopped") if event["at"] < timings.reply_at]
    analyses = [event for event in server.events("turn_analysis") if event["at"] < timings.reply_at]
    if not vad or not analyses:
        return {"silence_limited": 0}
    last = analyses[-1]
    if last["state"] != "COMPLETE":
        # Smart-turn judged the turn unfinished, so the turn ended on its silence limit instead.
        window = last["silence_limit"]
        return {
            "turn_window": window,
            "turn_inference": 0.0,
            "turn_overhead": timings.turn_latency - window,
            "silence_limited": 1,
        }
    window, inference = vad[-1]["stop_secs"], last["at"] - last["started"]
    return {
        "turn_window": window,
        "turn_inference": inference,
        "turn_overhead": timings.turn_latency - window - inference,
        "vad_lag": vad[-1]["at"] - timings.speech_ended - window,
        "reply_lag": timings.reply_at - last["at"],
        "silence_limited": 0,
    }


REALTIME_TURN_NOTE = (
    "realtime turns: the fake OpenAI Realtime API (our agent's tests/fakes/openai_realtime_server.py) ends a"
    " turn after its server VAD's 500 ms of silence (the real API's default silence_duration_ms) and starts"
    " each response after its default 0.2 s model delay, the same for both bots; our agent lets those events"
    " take the turns, the anchor also runs a local Silero VAD in its user aggregator (as pipecat init"
    " generates it); the turn latency includes the 500 ms window"
)


def turn_note(samples: dict, silence_limited: dict) -> str:
    from pipecat.audio.turn.smart_turn.base_smart_turn import STOP_SECS
    from pipecat.audio.vad.vad_analyzer import VAD_STOP_SECS

    used = {name: sorted(set(bot["turn_window"])) for name, bot in samples.items() if bot["turn_window"]}
    return (
        f"turn windows: the Silero VAD waits stop_secs (pipecat default {VAD_STOP_SECS} s; used: {used}),"
        " then smart-turn v3 (LocalSmartTurnAnalyzerV3, the default stop strategy of both bots) judges the"
        f" turn; a turn it judges unfinished ends after {STOP_SECS} s of silence instead (happened:"
        f" {dict(silence_limited)}); the Deepgram fake answers Finalize at once. Silero reads 32 ms windows"
        " at 8 kHz and smooths the volume, so the end of speech it sees differs from the caller's last voiced"
        " 20 ms frame: that VAD detection lag (same audio, same VAD in both bots) is the first part of the"
        " overhead; the second, turn detected -> first reply media, is the bot's own pipeline"
    )


def concurrency_notes(levels: dict, cap: int) -> list[str]:
    described = [
        "concurrency: each search starts a fresh server, places one warm-up call, then N calls in progress at"
        " once (greeting, question, reply), started together, or in the second search one every"
        f" {ARRIVALS_OVER_SECS:g}/N s; a level passes when every call completes and no call's bot audio has"
        " a hole over 60 ms inside an utterance, for a line that plays each media frame on arrival or right"
        " after the audio before it (pipecat sends 40 ms frames on a self-correcting 40 ms clock). N doubles,"
        f" then bisects, up to {cap}. The fakes and callers share the 2 cores with the bot. Below, per level:"
        " calls: longest hole/longest interval between bot media frames, turn latency median/max"
        " (CPU used, as a share of one core)"
    ]
    for (name, arrivals_over), searches in levels.items():
        started = f"arriving over {arrivals_over:g} s" if arrivals_over else "started together"
        for number, tried in enumerate(searches, 1):
            described.append(f"  {name}, {started}, search {number}: " + ", ".join(map(str, tried)))
    return described


def cpu_per_listening_call(bot_dir, env, name, question, fakes) -> float:
    """The server's CPU with LISTENING_CALLS callers on the line in silence, less its idle CPU, per call."""
    from calls import greet_ask_and_listen, listening_calls

    server = serve(bot_dir, env, f"{name}-listening")

    def cpu_share(seconds: float) -> float:
        cpu, started = server.cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        return (server.cpu_seconds() - cpu) / (time.monotonic() - started)

    async def while_listening() -> float:
        async with listening_calls(server.url, LISTENING_CALLS):
            return await asyncio.to_thread(cpu_share, LISTENING_SECS)

    try:
        fakes.reset()
        fakes.caller_will_say(QUESTION)
        asyncio.run(greet_ask_and_listen(server.url, question))  # as in the search: a warm server
        time.sleep(IDLE_SETTLE_SECS)
        idle = cpu_share(2.0)
        return (asyncio.run(while_listening()) - idle) / LISTENING_CALLS
    finally:
        server.stop()


def concurrency_search(bot_dir, env, name, question, fakes, cap, arrivals_over) -> tuple[int, list]:
    from calls import greet_ask_and_listen, most_sustained_calls, simultaneous_calls

    server = serve(bot_dir, env, f"{name}-concurrency")

    def try_level(count: int):
        fakes.reset()
        fakes.caller_will_say(*[QUESTION] * count)
        started, server_cpu, bench_cpu = time.monotonic(), server.cpu_seconds(), time.process_time()
        result = asyncio.run(simultaneous_calls(server.url, question, count, arrivals_over))
        elapsed = time.monotonic() - started
        # Shares of one core: the bot runs its calls on one event loop; the fakes and callers run here.
        server_share = (server.cpu_seconds() - server_cpu) / elapsed
        bench_share = (time.process_time() - bench_cpu) / elapsed
        result.cpu_use = f" (CPU bot {server_share:.0%}, bench {bench_share:.0%})"
        progress(
            f"{name} concurrency{f' (arriving over {arrivals_over:g} s)' if arrivals_over else ''}: {result}"
        )
        # Let the server tear those calls down before the next level starts.
        time.sleep(0.5)
        return result

    try:
        # The first call in a process loads the models; the search measures a warm server.
        fakes.reset()
        fakes.caller_will_say(QUESTION)
        asyncio.run(greet_ask_and_listen(server.url, question))
        return most_sustained_calls(try_level, cap)
    except Exception:
        progress(f"{name} server log:\n{server.log_tail()}")
        raise
    finally:
        server.stop()


def render_table(samples: dict) -> str:
    labels = [f"{label} ({unit})" for _, label, unit in ROWS]
    width = max(map(len, labels))
    header = f"{'metric':<{width}} | {'ours median':>11} {'min':>7} {'max':>7} | "
    header += f"{'anchor median':>13} {'min':>7} {'max':>7}"
    lines = [header, "-" * len(header)]
    for (key, _, unit), label in zip(ROWS, labels, strict=True):
        if not any(samples[name].get(key) for name in ("ours", "anchor")):
            continue  # not measured in this run (no concurrency search, or no local turn models)
        cells = []
        for name, median_width in (("ours", 11), ("anchor", 13)):
            values = samples[name].get(key) or []
            stats = (statistics.median(values), min(values), max(values)) if values else (None,) * 3
            median, low, high = (show(value, unit) for value in stats)
            cells.append(f"{median:>{median_width}} {low:>7} {high:>7}")
        lines.append(f"{label:<{width}} | {cells[0]} | {cells[1]}")
    return "\n".join(lines)


def show(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "ms":
        return f"{value * 1000:.0f}"
    if unit == "MB":
        return f"{value:.1f}"
    if unit == "%":
        return f"{value * 100:.2f}"
    return f"{value:g}"


def template_revision(revision: str | None) -> str:
    def git(*command: str) -> str:
        return subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    if revision:
        subject = git("log", "-1", "--format=%s", revision)
        return f"template: commit {git('rev-parse', '--short', revision)} ({subject})"
    # bench/ itself is left out: the benchmark measures the template.
    edited = git("status", "--porcelain", "--", ".", ":!bench")
    head = git("rev-parse", "--short", "HEAD") or "?"
    return f"template: working tree at commit {head}" + (" plus uncommitted changes" if edited else "")


def machine() -> str:
    from importlib.metadata import version

    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        "?",
    )
    memory_kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    return (
        f"machine: {len(os.sched_getaffinity(0))} cores ({cpu}), {memory_kb / 1024**2:.1f} GB RAM, "
        f"Python {sys.version.split()[0]}, pipecat-ai {version('pipecat-ai')},"
        f" cookiecutter {version('cookiecutter')}"
    )


if __name__ == "__main__":
    main()
