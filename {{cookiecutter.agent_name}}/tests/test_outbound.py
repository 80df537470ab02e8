"""Outbound calls: the command places them through REST; the bot lets the callee speak first."""

import asyncio
import time

from phone import twiml
from phrases import IDLE_GOODBYE, STILL_THERE
from tests.calling import assert_no_secret, hang_ups_for, new_caller, question, run, run_command, wait_until
from tests.fakes.twilio_rest import RestFailure
from tests.faults import SENT_AHEAD_SECS, SPEAKING_ALLOWANCE_SECS, heard, report_of


def test_outbound_command_places_a_call_with_inline_twiml(fakes):
    result = run_command(fakes, "-m", "commands.place_call", "+15557654321", "--name", "Alice")

    assert result.returncode == 0, result.stderr
    created = [r for r in fakes.twilio.requests if r.path.endswith("/Calls.json")][-1]
    assert created.method == "POST"
    assert created.form["To"] == "+15557654321"
    assert created.form["From"] == "+15550009999"
    assert '<Parameter name="direction" value="outbound" />' in created.form["Twiml"]
    assert '<Parameter name="callee_name" value="Alice" />' in created.form["Twiml"]
    assert f'<Stream url="{twiml.STREAM_URL}">' in created.form["Twiml"]
    assert_no_secret(result.stdout + result.stderr)


def test_outbound_command_can_use_a_twiml_bin(fakes):
    bin_url = "https://handler.twilio.com/twiml/EH0123456789abcdef?callee_name=Bob"
    result = run_command(fakes, "-m", "commands.place_call", "+15557654321", "--twiml-bin-url", bin_url)

    assert result.returncode == 0, result.stderr
    created = [r for r in fakes.twilio.requests if r.path.endswith("/Calls.json")][-1]
    assert created.form == {"To": "+15557654321", "From": "+15550009999", "Url": bin_url}


def test_outbound_command_failure_is_one_line(fakes):
    fakes.twilio.failure = RestFailure(match="/Calls.json", status=400)
    result = run_command(fakes, "-m", "commands.place_call", "+15557654321")

    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: the call was not placed: Twilio answered 400")
    assert_no_secret(result.stdout + result.stderr)


def test_outbound_call_waits_for_the_callee_to_speak(agent, fakes):
    fakes.caller_will_say("Hello?")
    fakes.openai.default_reply = "Hi Alice, this is the clinic calling about your appointment."
    parameters = {"direction": "outbound", "from_number": "+15550009999", "to_number": "+15557654321"}

    async def scenario():
        async with new_caller(agent, parameters={**parameters, "callee_name": "Alice"}) as caller:
            await caller.start()
            await asyncio.sleep(2.5)  # a greeting would have started well within this
            llm_runs_before_callee = len(fakes.openai.chat_requests)
            spoke_until = await caller.say(question())
            await caller.wait_for("media", after=spoke_until, timeout=20)
            await caller.hang_up()
            return llm_runs_before_callee

    assert run(scenario()) == 0  # nothing said for the bot until the callee spoke
    messages = fakes.openai.chat_requests[-1]["messages"]
    assert any("Alice" in str(message.get("content")) for message in messages)
    assert "Hi Alice, this is the clinic calling about your appointment." in fakes.spoken()


def test_a_callee_who_never_speaks_is_checked_on_then_the_call_ends(fresh_server, fakes):
    """No greeting starts the idle timer on a call the bot placed: the silence counts from the start, or
    from the end of the recording notice, with call recording on."""
    idle_secs = 2.0
    server = fresh_server("cloud", IDLE_TIMEOUT_SECS=str(idle_secs))
    parameters = {"direction": "outbound", "from_number": "+15550009999", "to_number": "+15557654321"}

    async def scenario():
        async with new_caller(server, parameters=parameters) as caller:
            started = time.monotonic()
            await caller.start()
            await wait_until(lambda: caller.closed, timeout=30, what="the bot to end the call")
            return caller, started

    caller, started = run(scenario())
    check_in = fakes.asked_to_speak(STILL_THERE, after=started)
    assert check_in is not None, "a silent callee was never checked on"
    opening_over = max((end for _, end in heard(caller) if end < check_in), default=started)
    assert idle_secs - SENT_AHEAD_SECS <= check_in - opening_over <= idle_secs + SPEAKING_ALLOWANCE_SECS
    assert fakes.asked_to_speak(IDLE_GOODBYE, after=check_in) is not None
    assert len(hang_ups_for(fakes, caller)) == 1
    record = report_of(server, caller)
    assert record["ended_by"] == "idle" and record["direction"] == "outbound"
