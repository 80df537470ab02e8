"""Calls placed with the generated agent's fake Twilio caller, and the timings taken from them.

Import this after the generated agent's folder is on sys.path: the caller is its `tests.fakes`.
"""

import asyncio
import base64
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from itertools import pairwise

from tests.fakes.twilio_caller import FakeTwilioCaller, Received
from tests.fakes.twilio_rest import FakeTwilioRest

# The fake Twilio REST API the bots ask about their calls (our agent confirms each CallSid there).
_twilio: FakeTwilioRest | None = None
_call_numbers = itertools.count(1)


def connect_calls_through(twilio: FakeTwilioRest) -> None:
    """From now on each call is one this fake Twilio connected, as a real call would be."""
    global _twilio
    _twilio = twilio


def new_caller(url: str, call_sid: str | None = None) -> FakeTwilioCaller:
    """A caller with a CallSid of its own, known to the fake Twilio when one is connected."""
    caller = FakeTwilioCaller(url, call_sid=call_sid or f"CA{next(_call_numbers):032d}")
    # A template from before the caller check has a fake Twilio that knows no calls.
    if _twilio is not None and hasattr(_twilio, "start_call"):
        _twilio.start_call(caller.call_sid, caller.account_sid)
    return caller


# Bot silence that ends one of its utterances, as in the agent's commands.simulate.
QUIET_SECS = 0.8
# The longest hole in the bot's audio a call may have at a sustained level of concurrency.
MAX_AUDIO_GAP = 0.060
LINE_BYTES_PER_SECOND = 8000  # 8 kHz μ-law: one byte per sample


@dataclass
class CallTimings:
    first_audio: float  # Twilio `start` sent -> first bot `media` received
    speech_ended: float  # the caller's last voiced 20 ms frame was sent
    reply_at: float  # first `media` of the reply received
    max_interval: float  # longest wait between two bot `media` frames inside one utterance
    max_hole: float  # longest silence inside one utterance, for a line that plays frames as they arrive

    @property
    def turn_latency(self) -> float:
        return self.reply_at - self.speech_ended


async def greet_ask_and_listen(url: str, question: bytes, call_sid: str | None = None) -> CallTimings:
    """One call: hear the greeting out, say the question, hear the reply out, hang up.

    `call_sid` names the call; by default it gets a CallSid of its own.
    """
    async with new_caller(url, call_sid) as caller:
        await caller.start()
        first = await caller.wait_for("media", timeout=30)
        await hear_out(caller)
        began = time.monotonic()
        speech_ended = await caller.say(question)
        reply = await caller.wait_for("media", after=began, timeout=60)
        await hear_out(caller)
        await caller.hang_up()
    media = caller.events("media")
    media_times = [item.at for item in media]
    durations = [frame_seconds(item) for item in media]
    return CallTimings(
        first_audio=first[0].at - caller.started_at,
        speech_ended=speech_ended,
        reply_at=reply[0].at,
        max_interval=max((b - a for a, b in pairwise(media_times) if b - a < QUIET_SECS), default=0.0),
        max_hole=longest_hole(media_times, durations),
    )


@asynccontextmanager
async def listening_calls(url: str, count: int) -> AsyncIterator[None]:
    """`count` calls whose callers heard the greeting out and stay on the line in silence (Twilio
    still sends a media frame every 20 ms)."""
    async with AsyncExitStack() as stack:
        callers = [await stack.enter_async_context(new_caller(url)) for _ in range(count)]
        for caller in callers:
            await caller.start()
        for caller in callers:
            await caller.wait_for("media", timeout=30)
            await hear_out(caller)
        yield
        for caller in callers:
            await caller.hang_up()


def frame_seconds(media: Received) -> float:
    return len(base64.b64decode(media.message["media"]["payload"])) / LINE_BYTES_PER_SECOND


async def hear_out(caller: FakeTwilioCaller, timeout: float = 60) -> None:
    """Waits until the line has played all the bot sent, then QUIET_SECS of silence.

    A bot may send audio faster than real time (a cached greeting at once): Twilio plays it in order,
    and a caller would not speak before it has been heard.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        playing_until = float("-inf")
        for media in caller.events("media"):
            playing_until = max(playing_until, media.at) + frame_seconds(media)
        if time.monotonic() - playing_until >= QUIET_SECS:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the bot did not stop talking within {timeout}s")


def longest_hole(arrivals: list[float], durations: list[float]) -> float:
    """The longest silence inside an utterance if each frame plays on arrival or right after the last one.

    pipecat sends 40 ms frames on a self-correcting 40 ms clock, so one late frame (a 64 ms interval)
    is a 24 ms hole, and the caller hears a hole only once the audio already sent has run out.
    """
    longest, playing_until = 0.0, float("-inf")
    for arrived, duration in zip(arrivals, durations, strict=True):
        hole = arrived - playing_until
        if hole < QUIET_SECS:  # a longer silence is the end of an utterance, not a hole in one
            longest = max(longest, hole)
        playing_until = max(playing_until, arrived) + duration
    return longest


@dataclass
class LevelResult:
    calls: int
    max_hole: float  # over every call at this level
    max_interval: float
    failures: list[str]
    turn_latencies: list[float]  # end of the caller's question -> first reply media, one per call
    cpu_use: str = ""  # how busy the server and the benchmark were, filled in by the caller

    @property
    def sustained(self) -> bool:
        return not self.failures and self.max_hole <= MAX_AUDIO_GAP

    def __str__(self) -> str:
        failed = f" ({len(self.failures)} failed: {self.failures[0]})" if self.failures else ""
        hole, interval = f"{self.max_hole * 1000:.0f}", f"{self.max_interval * 1000:.0f}"
        verdict = "" if self.sustained else " FAIL"
        latencies = sorted(self.turn_latencies) or [float("nan")]
        turns = f"turn {latencies[len(latencies) // 2] * 1000:.0f}/{latencies[-1] * 1000:.0f} ms"
        return f"{self.calls}: {hole}/{interval} ms, {turns}{failed}{verdict}{self.cpu_use}"


async def simultaneous_calls(
    url: str, question: bytes, count: int, arrivals_over: float = 0.0
) -> LevelResult:
    """`count` calls in progress at once. They all start together, or one every arrivals_over/count
    seconds: shorter than a call (about 10 s), so all of them overlap for most of their length."""

    async def arriving(number: int) -> CallTimings:
        await asyncio.sleep(number * arrivals_over / count)
        return await greet_ask_and_listen(url, question)

    results = await asyncio.gather(*(arriving(number) for number in range(count)), return_exceptions=True)
    timings = [result for result in results if isinstance(result, CallTimings)]
    failures = [f"{type(result).__name__}: {result}" for result in results if isinstance(result, Exception)]
    max_hole = max((timing.max_hole for timing in timings), default=0.0)
    max_interval = max((timing.max_interval for timing in timings), default=0.0)
    latencies = [timing.turn_latency for timing in timings]
    return LevelResult(count, max_hole, max_interval, failures, latencies)


def most_sustained_calls(try_level: Callable[[int], LevelResult], cap: int) -> tuple[int, list[LevelResult]]:
    """Doubles the number of calls until one level fails, then bisects; returns (best, levels tried)."""
    tried: list[LevelResult] = []

    def sustains(count: int) -> bool:
        tried.append(try_level(count))
        return tried[-1].sustained

    best, failed, count = 0, None, 1
    while failed is None and best < cap:
        if sustains(count):
            best, count = count, min(count * 2, cap)
        else:
            failed = count
    while failed is not None and failed - best > 1:
        middle = (best + failed) // 2
        if sustains(middle):
            best = middle
        else:
            failed = middle
    return best, tried
