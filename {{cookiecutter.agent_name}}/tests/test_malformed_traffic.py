"""Traffic Twilio would never send, on a real WebSocket. Each case is survived (the call goes on), or
the stream is closed with one log line saying why; none ends in a traceback or a hang-up, and a
stream refused before its call started makes no REST request at all.
"""

import asyncio
import base64
import json
import time

import pytest

from phone.stream import HANDSHAKE_TIMEOUT_SECS
from tests.calling import QUESTION, ask, hang_ups_for, hear_greeting, new_caller, run, wait_until
from tests.fakes.twilio_caller import FakeTwilioCaller
from tests.faults import LogSlice

ANSWER = "We open at nine tomorrow."
OTHER_STREAM = "MZ" + "9" * 32
BINARY = b"\xff\x00 binary frame"
ONE_MB_OF_AUDIO = base64.b64encode(b"\xff" * (768 * 1024)).decode()  # 98 s of μ-law silence in one frame


def media(stream_sid: str, payload: str) -> dict:
    return {"event": "media", "streamSid": stream_sid, "media": {"track": "inbound", "payload": payload}}


def silence(stream_sid: str) -> dict:
    return media(stream_sid, base64.b64encode(b"\xff" * 160).decode())  # 20 ms of μ-law silence


def second_start(caller: FakeTwilioCaller) -> dict:
    return caller.opening()[1]


def start_without_call_sid(caller: FakeTwilioCaller) -> dict:
    start = caller.opening()[1]
    del start["start"]["callSid"]
    return start


async def send_all(caller: FakeTwilioCaller, messages: list) -> None:
    for message in messages:
        await caller.send(message if isinstance(message, str | bytes) else json.dumps(message))


def assert_one_line(log: LogSlice, expected: str) -> None:
    """The only line at WARNING or above is the one that says what happened."""
    lines = log.warnings()
    assert len(lines) == 1 and expected in lines[0], lines


# Sent in the middle of a call, three times each, and the one log line for all three.
MID_CALL = {
    "truncated-json": (
        lambda caller: '{"event": "media", "streamSid": "' + caller.stream_sid,
        "ignoring a message that is not JSON (",
    ),
    "unknown-event": (
        lambda caller: {"event": "no-such-event", "streamSid": caller.stream_sid},
        "ignoring an unknown event ('no-such-event')",
    ),
    "wrong-stream-sid": (
        lambda caller: silence(OTHER_STREAM),
        "ignoring a message for another stream ('media')",
    ),
    "1mb-frame": (
        lambda caller: media(caller.stream_sid, ONE_MB_OF_AUDIO),
        "ignoring an oversized message (",
    ),
    "binary-frame": (lambda caller: BINARY, f"ignoring a binary frame ({len(BINARY)} bytes)"),
    "bad-base64": (
        lambda caller: media(caller.stream_sid, "!!not-base64!!"),
        "ignoring a malformed message ('media': Error: ",
    ),
    "second-start": (second_start, "ignoring a second 'start' message"),
}


@pytest.mark.parametrize("case", MID_CALL)
def test_junk_in_the_middle_of_a_call_is_ignored_and_the_call_goes_on(agent, fakes, case):
    junk, logged = MID_CALL[case]
    fakes.caller_will_say(QUESTION)
    fakes.openai.answers = {QUESTION: ANSWER}
    log = LogSlice(agent)

    async def scenario():
        async with new_caller(agent) as caller:
            await hear_greeting(caller)
            await send_all(caller, [junk(caller)] * 3)
            await ask(caller)  # answered: the caller's audio still reaches the bot
            # Heard to its end: a hang-up mid-reply has its own tests (test_disconnects.py), and pipecat
            # warns of the audio it could not send.
            await caller.wait_for_quiet()
            await caller.hang_up()
            return caller

    caller = run(scenario())
    assert ANSWER in fakes.spoken()
    assert hang_ups_for(fakes, caller) == []
    assert_one_line(log, f"Call {caller.call_sid}: {logged}")


def test_junk_before_start_is_ignored_and_the_call_is_answered(agent, fakes):
    log = LogSlice(agent)

    async def scenario():
        async with new_caller(agent) as caller:
            # `media` before `start`, a binary frame, broken JSON: then the stream starts properly.
            await send_all(caller, [caller.opening()[0], *[silence(caller.stream_sid)] * 3, b"\x00", "{"])
            await caller.start()
            await caller.wait_for("media")  # greeted
            await caller.hang_up()
            return caller

    caller = run(scenario())
    ignored = "'media' message x3, a binary frame x1, a message that is not JSON x1"
    assert_one_line(
        log,
        f"Call {caller.call_sid}: Twilio's 'start' came after other messages; ignored before it: {ignored}",
    )


async def wait_until_closed(caller: FakeTwilioCaller, within: float) -> float:
    """Streams the line's silence, as a line without `start` still would, until the bot closes the stream."""
    sent_at = time.monotonic()
    while not caller.closed:
        if time.monotonic() - sent_at > within:
            raise TimeoutError(f"the bot did not close the stream within {within} s")
        await caller.send(json.dumps(silence(caller.stream_sid)))
        await asyncio.sleep(0.02)
    return time.monotonic() - sent_at


# What the caller sends instead of a proper opening, and the reason bot() logs as it closes the stream.
REFUSED = {
    "missing-start": (
        lambda caller: [caller.opening()[0]],
        f"no 'start' message within {HANDSHAKE_TIMEOUT_SECS} s; ignored before it: 'media' message x",
    ),
    "start-without-callsid": (
        lambda caller: [caller.opening()[0], start_without_call_sid(caller)],
        "the 'start' message names no callSid and streamSid",
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_stream_that_never_starts_a_call_is_closed_with_one_line(agent, fakes, case):
    opening, reason = REFUSED[case]
    log = LogSlice(agent)  # after the earlier calls: a REST request from now on is this stream's
    requests_before = len(fakes.twilio.requests)

    async def scenario():
        async with new_caller(agent) as caller:
            await send_all(caller, opening(caller))
            seconds = await wait_until_closed(caller, within=HANDSHAKE_TIMEOUT_SECS + 2)
        await asyncio.sleep(0.5)  # room for a late error or request
        return seconds

    seconds = run(scenario())
    print(f"{case}: closed after {seconds:.2f} s")
    assert_one_line(log, f"Stream refused: {reason}")
    assert fakes.twilio.requests[requests_before:] == []


def test_a_caller_gone_before_start_leaves_one_line(agent, fakes):
    log = LogSlice(agent)
    requests_before = len(fakes.twilio.requests)

    async def scenario():
        async with new_caller(agent) as caller:
            await send_all(caller, [caller.opening()[0]])
            await caller.drop()
        await wait_until(lambda: "Stream refused" in log.text(), what="the log line")
        await asyncio.sleep(0.5)

    run(scenario())
    assert_one_line(log, "Stream refused: the stream closed before its 'start' message")
    assert fakes.twilio.requests[requests_before:] == []
