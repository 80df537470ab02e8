{%- set agent = cookiecutter | agent -%}
"""Streams Twilio never connected: refused before they cost a provider request; real calls lose nothing."""

import asyncio
import time

import pytest

from tests.calling import (
    QUESTION,
    SLOW_TWILIO_ANSWER_SECS,
    hang_ups_for,
    hear_greeting,
    new_caller,
    question,
    requests_for,
    rest_failure,
    run,
    wait_until,
)
from tests.fakes.twilio_rest import RestFailure

CLOSED_WITHIN_SECS = 1.0


def provider_requests(fakes) -> int:
    """LLM and text-to-speech requests so far, across every fake that serves them."""
    return fakes.model_requests() + len(fakes.spoken())


async def forged_call(caller) -> float:
    """Opens the stream and speaks at once, as a forger would; returns how long until the bot closed it."""
    await caller.start()
    speaking = asyncio.create_task(caller.say(question()))
    await wait_until(lambda: caller.closed, timeout=10, what="the bot to close the stream")
    closed_after = time.monotonic() - caller.started_at
    speaking.cancel()
    await asyncio.sleep(2.0)  # room for a request the gate should have held
    return closed_after


@pytest.mark.parametrize("forgery", ["invented CallSid", "completed CallSid"])
def test_forged_stream_is_closed_before_any_provider_request(agent, fakes, forgery):
    fakes.caller_will_say(QUESTION)
    caller = new_caller(agent, registered=forgery == "completed CallSid")
    if forgery == "completed CallSid":
        fakes.twilio.calls[caller.call_sid]["status"] = "completed"
    before = provider_requests(fakes)

    async def scenario():
        async with caller:
            return await forged_call(caller)

    closed_after = run(scenario())
    assert closed_after < CLOSED_WITHIN_SECS
    assert provider_requests(fakes) == before  # no LLM, no text-to-speech, so no tool call either
    # Twilio was asked, and nothing else was done with the CallSid: no hang-up, no recording.
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in requests_for(fakes, caller)] == [
        ("GET", f"{caller.call_sid}.json")
    ]
    reason = "Twilio has no such call" if forgery == "invented CallSid" else "the call is completed"
    assert f"Call {caller.call_sid}: refused: {reason}" in agent.log()


def test_a_call_sid_that_is_not_one_never_reaches_a_rest_url(agent, fakes):
    caller = new_caller(agent, registered=False)
    caller.call_sid = "CA../../IncomingPhoneNumbers/PN0"
    before = len(fakes.twilio.requests)

    async def scenario():
        async with caller:
            return await forged_call(caller)

    assert run(scenario()) < CLOSED_WITHIN_SECS
    assert fakes.twilio.requests[before:] == []
    assert f"Call {caller.call_sid}: refused: the CallSid is not a Twilio CallSid" in agent.log()


def test_the_greeting_{{ "waits" if agent.realtime else "does_not_wait" }}_for_twilio(agent, fakes):
    fakes.caller_will_say(QUESTION)
    fakes.openai.answers = {QUESTION: "We open at nine tomorrow."}
    fakes.twilio.failure = RestFailure(match="GET", status=None, delay=SLOW_TWILIO_ANSWER_SECS)

    async def scenario():
        async with new_caller(agent) as caller:
            await caller.start()
            first_audio = await caller.wait_for("media")
            spoke_until = await caller.say(question())
            await caller.wait_for("media", after=spoke_until, timeout=20)
            await caller.hang_up()
            return caller, first_audio[0].at

    caller, first_audio_at = run(scenario())
    check = next(r for r in requests_for(fakes, caller) if r.method == "GET")
{%- if agent.realtime %}
    # The model speaks once Twilio has confirmed the call: a forged stream gets no words from it.
    assert first_audio_at > check.at + SLOW_TWILIO_ANSWER_SECS
{%- else %}
    assert first_audio_at < check.at + SLOW_TWILIO_ANSWER_SECS  # heard before Twilio had answered
{%- endif %}
    assert f"Call {caller.call_sid}: confirmed by Twilio" in agent.log()
    assert "We open at nine tomorrow." in fakes.spoken()


def test_a_twilio_outage_keeps_real_callers_by_default(agent, fakes):
    fakes.caller_will_say(QUESTION)
    fakes.openai.answers = {QUESTION: "We open at nine tomorrow."}
    fakes.twilio.failure = RestFailure(match="GET", status=503)

    async def scenario():
        async with new_caller(agent) as caller:
            await hear_greeting(caller)
            spoke_until = await caller.say(question())
            await caller.wait_for("media", after=spoke_until, timeout=20)
            await caller.hang_up()
            return caller

    caller = run(scenario())
    assert "We open at nine tomorrow." in fakes.spoken()
    assert f"Call {caller.call_sid}: not confirmed (Twilio answered 503" in agent.log()
    assert "accepted, as UNCONFIRMED_CALLS=accept" in agent.log()
    assert hang_ups_for(fakes, caller) == []


def test_a_twilio_outage_refuses_calls_when_so_set(fresh_server, fakes):
    server = fresh_server("cloud", UNCONFIRMED_CALLS="refuse")
    fakes.caller_will_say(QUESTION)
    fakes.twilio.failure = rest_failure("rest-timeout", match="GET")
    caller = new_caller(server)
    before = provider_requests(fakes)

    async def scenario():
        async with caller:
            return await forged_call(caller)

    # The REST timeout, then the close.
    api_timeout = fakes.env["TWILIO_API_TIMEOUT_SECS"]
    assert run(scenario()) < float(api_timeout) + CLOSED_WITHIN_SECS
    assert provider_requests(fakes) == before
    refused = f"Call {caller.call_sid}: refused: not confirmed (Twilio did not answer within {api_timeout}s"
    assert refused in server.log()
    assert "UNCONFIRMED_CALLS is refuse" in server.log()
