"""Small helpers the call scenarios share: placing a call, waiting, finding its REST requests."""

import asyncio
import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.fakes.twilio_caller import FakeTwilioCaller, read_wav
from tests.fakes.twilio_rest import RestFailure
from tests.harness import AGENT_DIR, PLANTED_SECRETS

AUDIO = Path(__file__).parent / "audio"
QUESTION = "What time do you open tomorrow?"  # spoken in audio/question.wav
_call_numbers = itertools.count(1)


def question() -> bytes:
    return read_wav(AUDIO / "question.wav")


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 90))


def new_caller(agent, registered: bool = True, **kwargs) -> FakeTwilioCaller:
    """A caller on a call Twilio connected: its fake REST API knows the call, as the bot checks.

    `registered=False` is a forged stream: a CallSid Twilio never connected.
    """
    # A fresh CallSid per call keeps each test's REST requests apart in the shared fake.
    caller = FakeTwilioCaller(agent.url, call_sid=f"CA{next(_call_numbers):032d}", **kwargs)
    if registered and agent.twilio is not None:
        direction = "outbound-api" if caller.parameters.get("direction") == "outbound" else "inbound"
        agent.twilio.start_call(caller.call_sid, caller.account_sid, direction)
    return caller


async def hear_greeting(caller: FakeTwilioCaller) -> None:
    """Starts the call and listens until the bot's greeting is over."""
    await caller.start()
    await caller.wait_for("media")
    await caller.wait_for_quiet()


async def ask(caller: FakeTwilioCaller, timeout: float = 20.0) -> float:
    """Says the question and waits for the bot's reply to start; returns when the caller stopped talking."""
    spoke_until = await caller.say(question())
    await caller.wait_for("media", after=spoke_until, timeout=timeout)
    return spoke_until


async def one_question_call(agent) -> FakeTwilioCaller:
    """A whole call: the greeting, the question, the start of the reply, then hang-up."""
    async with new_caller(agent) as caller:
        await hear_greeting(caller)
        await ask(caller)
        await caller.hang_up()
        return caller


def requests_for(fakes, caller) -> list:
    """The REST requests about a caller's call: its CallSid in the path, or as a filter (ParentCallSid)."""
    return [r for r in fakes.twilio.requests if caller.call_sid in (r.path + " ".join(r.query.values()))]


def hang_ups_for(fakes, caller) -> list:
    return [r for r in fakes.twilio.hang_ups() if caller.call_sid in r.path]


async def wait_until(condition, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


INBOUND = {"direction": "inbound", "from_number": "+15550001111", "to_number": "+15550002222"}
# The ways a Twilio REST request fails: an error answer, or none within TWILIO_API_TIMEOUT_SECS (2 s).
REST_FAILURES = {
    "rest-500": {"status": 500},
    "rest-404": {"status": 404},
    "rest-timeout": {"status": None, "delay": 4},
}
# A true answer that comes late, but well within TWILIO_API_TIMEOUT_SECS: what the bot does meanwhile.
SLOW_TWILIO_ANSWER_SECS = 0.8


def rest_failure(name: str, match: str) -> RestFailure:
    return RestFailure(match=match, **REST_FAILURES[name])


def assert_no_secret(text: str) -> None:
    for secret in PLANTED_SECRETS:
        assert secret not in text, "a fake secret reached an output"


def run_command(fakes, *command: str) -> subprocess.CompletedProcess:
    """Runs one of the agent's commands (`-m commands.number_setup ...`) against the fakes."""
    env = {**os.environ, **fakes.env, "TWILIO_PHONE_NUMBER": "+15550009999"}
    result = subprocess.run(
        [sys.executable, *command],
        cwd=AGENT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,  # no terminal, as in CI: nothing may wait for an answer
    )
    assert_no_secret(result.stdout + result.stderr)
    return result
