"""What the fault tests share: cutting a call without a `stop`, one call's slice of the server log,
and the dead air the caller heard."""

import asyncio
import json
import os
import re
import time

from tests.calling import INBOUND, hang_ups_for, new_caller, run
from tests.fakes.audio import has_speech
from tests.fakes.twilio_caller import SAMPLE_RATE, FakeTwilioCaller, media_pcm
from tests.harness import AgentServer

# The ways a line dies without Twilio's `stop` message.
CUTS = {"close": FakeTwilioCaller.drop, "reset": FakeTwilioCaller.abort}
# What the server logs when something went wrong: a loguru ERROR line, uvicorn's "ERROR:", a traceback.
PROBLEM = re.compile(r"\| (ERROR|CRITICAL) +\||^ERROR:|Traceback")
WARNING = re.compile(r"\| WARNING +\||^WARNING:")
CALL_END_DEADLINE_SECS = 2.0
# bot() logs both for every call, and the call report (call_control/call_report.py) between them.
CALL_STARTED = re.compile(r"Call (CA\w+) started \(")
CALL_REPORTED = re.compile(r"Call (CA\w+) report: (\{.*\})$", re.MULTILINE)
CALL_ENDED = re.compile(r"Call (CA\w+) ended$", re.MULTILINE)


def calls_in_progress(server: AgentServer) -> int:
    log = server.log()
    return len(CALL_STARTED.findall(log)) - len(CALL_ENDED.findall(log))


def call_reports(log: str) -> dict[str, list[dict]]:
    """The report records a log holds, by CallSid."""
    found: dict[str, list[dict]] = {}
    for call_sid, record in CALL_REPORTED.findall(log):
        found.setdefault(call_sid, []).append(json.loads(record))
    return found


def report_of(server: AgentServer, caller: FakeTwilioCaller, timeout: float = 20.0) -> dict:
    """The one report a caller's stream left, once bot() has returned (the report POSTed, if it was)."""

    def reported() -> list[dict]:
        log = server.log()
        reports = call_reports(log).get(caller.call_sid, [])
        if CALL_ENDED.findall(log).count(caller.call_sid) < len(reports):
            return []  # the last stream's bot() is still posting its report
        return [report for report in reports if report["stream_sid"] == caller.stream_sid]

    deadline = time.monotonic() + timeout
    while not reported() and time.monotonic() < deadline:
        time.sleep(0.05)
    records = reported()
    if len(records) != 1:
        lines = [line for line in server.log().splitlines() if caller.call_sid in line]
        raise AssertionError(
            f"stream {caller.stream_sid}: {len(records)} reports after {timeout} s; the call's log:\n"
            + "\n".join(lines[-30:])
        )
    return records[0]


def calls_without_one_report(log: str, calls: list[str]) -> list[str]:
    """Each stream of `calls` (a CallSid once per stream) logged exactly one report: those that did not."""
    reports = call_reports(log)
    return [
        f"{sid}: {len(reports.get(sid, []))} reports of {calls.count(sid)} streams"
        for sid in sorted(set(calls))
        if len(reports.get(sid, [])) != calls.count(sid)
    ]


class LogSlice:
    """What a server logs from now on: one test's lines, in a log the session shares.

    It starts once the earlier calls have ended (or after `wait` seconds: a call that never ended has
    failed its own test), so that none of their lines or REST requests lands in this one.
    """

    def __init__(self, server: AgentServer, wait: float = 5.0) -> None:
        deadline = time.monotonic() + wait
        while calls_in_progress(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.server = server
        self.start = len(server.log())

    def text(self) -> str:
        return self.server.log()[self.start :]

    def problems(self) -> list[str]:
        return [line for line in self.text().splitlines() if PROBLEM.search(line)]

    def warnings(self) -> list[str]:
        """Every line at WARNING or above, problems included."""
        return [line for line in self.text().splitlines() if WARNING.search(line) or PROBLEM.search(line)]


async def cut(caller: FakeTwilioCaller, server: AgentServer, kind: str, as_it_starts: bool = False) -> float:
    """Cuts the line (`close` or `reset`); returns the seconds until bot() logged the call's end.

    `as_it_starts`: the stream's opening and the cut go out in one write, before the bot can answer.
    """
    cut_at = time.monotonic()
    if as_it_starts:
        caller.start_and_cut(kind)
    else:
        await CUTS[kind](caller)
    ended = f"Call {caller.call_sid} ended"
    while ended not in server.log():
        if time.monotonic() - cut_at > CALL_END_DEADLINE_SECS:
            raise TimeoutError(f"no {ended!r} within {CALL_END_DEADLINE_SECS} s of a {kind}")
        await asyncio.sleep(0.01)  # fine-grained: the seconds are reported
    return time.monotonic() - cut_at


async def greeted(agent) -> None:
    async with new_caller(agent) as caller:
        await caller.start()
        await caller.wait_for("media")
        await caller.hang_up()


def assert_cut_cleanly(agent, fakes, kind: str, reach_the_point=None) -> tuple[FakeTwilioCaller, float]:
    """Reaches a point in an inbound call (none: the stream's opening), cuts it, checks the aftermath.

    Returns the caller, and the seconds from the cut until the call ended.
    """
    log = LogSlice(agent)

    async def scenario():
        async with new_caller(agent, parameters=INBOUND) as caller:
            if reach_the_point:
                await reach_the_point(agent, fakes, caller)
            seconds = await cut(caller, agent, kind, as_it_starts=reach_the_point is None)
        fakes.reset()  # no injected failure holds up the next call
        await asyncio.sleep(0.5)  # room for a late error or a second hang-up
        await greeted(agent)  # the process still answers
        return caller, seconds

    caller, seconds = run(scenario())
    problems = log.problems()
    assert problems == [], "\n".join(problems)  # a helper module: pytest does not rewrite it
    assert len(hang_ups_for(fakes, caller)) <= 1
    return caller, seconds


# Dead air, for the provider fault tests. When this variable names a file, each of them appends
# {"fault": ..., "dead_air_s": ..., "limit_s": ...} to it (bench/faults.py prints the table).
DEAD_AIR_LOG = "FAULT_DEAD_AIR_LOG"
# On top of REPLY_TIMEOUT_SECS: the turn detection before it starts, and the fallback's first audio after.
SPEAKING_ALLOWANCE_SECS = 1.0
# pipecat sends audio a little ahead of its playback, and times a silence from its last send.
SENT_AHEAD_SECS = 0.25
JITTER_SECS = 0.02  # a gap this short between two media frames is not heard as silence


def played(caller: FakeTwilioCaller) -> list[tuple[float, float, float, bool]]:
    """(arrived, start, end, voiced) of each `media` frame as the caller heard it, on the tests' clock.

    Twilio plays each payload (8000 bytes a second) after the audio before it, so a burst plays over
    time; `clear` stops the playback and drops what it has not played yet. A frame of silence (pipecat
    pads the end of a call with some) is not voiced.
    """
    frames: list[tuple[float, float, float, bool]] = []
    playing_until = 0.0
    for item in caller.received:
        event = item.message.get("event")
        if event == "clear":
            kept = [frame for frame in frames if frame[1] < item.at]
            frames = [(arrived, start, min(end, item.at), voiced) for arrived, start, end, voiced in kept]
            playing_until = min(playing_until, item.at)
        elif event == "media":
            pcm = media_pcm(item.message)
            start = max(item.at, playing_until)
            playing_until = start + len(pcm) / 2 / SAMPLE_RATE
            frames.append((item.at, start, playing_until, has_speech(pcm)))
    return frames


def heard(caller: FakeTwilioCaller) -> list[tuple[float, float]]:
    """When the caller heard the bot: (start, end) of each stretch of voiced audio without a gap."""
    stretches: list[list[float]] = []
    for _, start, end, voiced in played(caller):
        if not voiced:
            continue
        if stretches and start <= stretches[-1][1] + JITTER_SECS:
            stretches[-1][1] = max(stretches[-1][1], end)
        else:
            stretches.append([start, end])
    return [(start, end) for start, end in stretches]


def first_heard(caller: FakeTwilioCaller, after: float) -> float | None:
    """When the caller began to hear the first voiced audio the bot sent after `after`."""
    return next((start for arrived, start, _, voiced in played(caller) if voiced and arrived > after), None)


def longest_silence(caller: FakeTwilioCaller, since: float, until: float) -> float:
    """The longest time between `since` and `until` in which the caller heard nothing from the bot."""
    longest, edge = 0.0, since
    for start, end in heard(caller):
        if start >= until:
            break
        if end > edge:
            longest, edge = max(longest, start - edge), end
    return max(longest, until - edge)


def assert_dead_air(fault: str, caller: FakeTwilioCaller, since: float, until: float, limit: float) -> None:
    """The longest silence the caller heard between `since` and `until` is within `limit` seconds."""
    seconds = longest_silence(caller, since, until)
    path = os.environ.get(DEAD_AIR_LOG)
    if path:  # written before the check, so the table shows a fault that failed it too
        with open(path, "a") as log:
            sample = {"fault": fault, "dead_air_s": round(seconds, 3), "limit_s": limit}
            log.write(json.dumps(sample) + "\n")
    assert seconds <= limit, f"{fault}: {seconds:.2f} s of dead air, over the {limit:g} s limit"


def guard_warnings(log: LogSlice) -> list[str]:
    """The reply guard's WARNING lines: one per failure it answered."""
    return [line for line in log.text().splitlines() if "| WARNING" in line and "Reply guard:" in line]
