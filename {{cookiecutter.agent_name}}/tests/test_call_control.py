"""Call control every agent has: ending calls through Twilio's REST API, pointing a number at a TwiML Bin."""

import time

import pytest

from phrases import GOODBYE
from tests.calling import (
    assert_no_secret,
    hang_ups_for,
    hear_greeting,
    new_caller,
    question,
    rest_failure,
    run,
    run_command,
    wait_until,
)
from tests.fakes.openai_server import ToolCall
from tests.faults import SPEAKING_ALLOWANCE_SECS, LogSlice, assert_dead_air, first_heard, heard

GOODBYE_SAID = "That is all, goodbye."


@pytest.mark.parametrize("failure", ["rest-500", "rest-timeout"])
def test_a_failed_hang_up_still_ends_the_call_after_the_goodbye(agent, fakes, failure):
    fakes.caller_will_say(GOODBYE_SAID)
    fakes.openai.answers = {GOODBYE_SAID: ToolCall("end_call")}
    log = LogSlice(agent)

    async def scenario():
        async with new_caller(agent) as caller:
            await hear_greeting(caller)
            fakes.twilio.failure = rest_failure(failure, match="POST")  # the hang-up, not the caller check
            spoke_until = await caller.say(question())
            await wait_until(lambda: caller.closed, timeout=20, what="the stream to close")
            closed_at = time.monotonic()
            ended = f"Call {caller.call_sid} ended"
            await wait_until(lambda: ended in agent.log(), timeout=20, what="bot() to return")
            return caller, spoke_until, closed_at, time.monotonic()

    caller, spoke_until, closed_at, ended_at = run(scenario())
    goodbye_at = fakes.asked_to_speak(GOODBYE, after=spoke_until)
    assert goodbye_at is not None and first_heard(caller, goodbye_at) is not None
    [hang_up] = hang_ups_for(fakes, caller)  # tried once, and it failed
    assert hang_up.username == caller.account_sid
    limit = float(fakes.env["REPLY_TIMEOUT_SECS"]) + SPEAKING_ALLOWANCE_SECS
    assert_dead_air(f"hang-up-{failure}", caller, spoke_until, closed_at, limit)
    # The line closes soon after the goodbye, and the call's pipeline ends soon after, however the
    # hang-up request went: until then, a Pipecat Cloud instance (one session each) takes no other call.
    api_timeout = float(fakes.env["TWILIO_API_TIMEOUT_SECS"])
    assert closed_at - heard(caller)[-1][1] <= api_timeout + SPEAKING_ALLOWANCE_SECS
    assert ended_at - closed_at <= api_timeout + SPEAKING_ALLOWANCE_SECS
    # One line says the hang-up failed, and why; no secret, no traceback.
    said = f"Call {caller.call_sid}: the hang-up failed"
    failed = [line for line in log.text().splitlines() if said in line]
    assert len(failed) == 1 and "| WARNING" in failed[0]
    assert "Traceback" not in log.text()
    assert_no_secret(log.text())


def test_number_setup_shows_the_number_then_points_it_at_the_bin(fakes):
    fakes.twilio.numbers = [
        {
            "sid": "PN" + "3" * 32,
            "phone_number": "+15550002222",
            "friendly_name": "Support line",
            "voice_url": "https://demo.twilio.com/welcome/voice/",
            "voice_method": "POST",
        }
    ]
    bin_url = "https://handler.twilio.com/twiml/EH0123456789abcdef"

    refused = run_command(fakes, "-m", "commands.number_setup", "+15550002222", "--bin-url", bin_url)
    assert refused.returncode == 1
    assert "https://demo.twilio.com/welcome/voice/" in refused.stdout
    assert not [r for r in fakes.twilio.requests if "/IncomingPhoneNumbers/" in r.path]

    changed = run_command(fakes, "-m", "commands.number_setup", "+15550002222", "--bin-url", bin_url, "--yes")
    assert changed.returncode == 0, changed.stderr
    update = [r for r in fakes.twilio.requests if "/IncomingPhoneNumbers/" in r.path][-1]
    assert update.form == {"VoiceUrl": bin_url, "VoiceMethod": "POST"}
    assert_no_secret(changed.stdout + changed.stderr)
