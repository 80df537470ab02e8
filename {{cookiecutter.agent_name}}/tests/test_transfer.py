"""transfer_call: the live call is redirected to a <Dial>, and never hung up after it."""

import asyncio

import pytest

import settings
from phrases import TRANSFER_FAILED, TRANSFERRING
from tests.calling import (
    INBOUND,
    QUESTION,
    REST_FAILURES,
    SLOW_TWILIO_ANSWER_SECS,
    assert_no_secret,
    hang_ups_for,
    hear_greeting,
    new_caller,
    question,
    requests_for,
    rest_failure,
    run,
    wait_until,
)
from tests.fakes.openai_server import ToolCall
from tests.fakes.twilio_rest import RestFailure
from tests.faults import CUTS, assert_cut_cleanly, report_of


def test_transfer_dials_the_number_and_never_hangs_up(agent, fakes):
    fakes.caller_will_say("Can I talk to a person?")
    fakes.openai.answers = {"Can I talk to a person?": ToolCall("transfer_call")}

    async def scenario():
        async with new_caller(agent, parameters=INBOUND) as caller:
            await hear_greeting(caller)
            await caller.say(question())
            transfer = lambda: [r for r in requests_for(fakes, caller) if "Twiml" in r.form]  # noqa: E731
            await wait_until(transfer, timeout=20, what="the transfer request")
            await asyncio.sleep(2.0)  # room for a wrong hang-up after the transfer
            return caller

    caller = run(scenario())
    call_path = f"/2010-04-01/Accounts/{caller.account_sid}/Calls/{caller.call_sid}.json"
    updates = [r for r in requests_for(fakes, caller) if r.method == "POST" and r.path == call_path]
    assert len(updates) == 1 and set(updates[0].form) == {"Twiml"}
    twiml = updates[0].form["Twiml"]
    assert f'<Dial callerId="{INBOUND["to_number"]}">{settings.TRANSFER_NUMBER.default}</Dial>' in twiml
    assert hang_ups_for(fakes, caller) == []
    assert TRANSFERRING in fakes.spoken()
    assert f"Call {caller.call_sid}: transferred to {settings.TRANSFER_NUMBER.default}" in agent.log()
    assert report_of(agent, caller)["ended_by"] == "transfer"


@pytest.mark.parametrize("failure_name", REST_FAILURES)
def test_failed_transfer_is_told_and_the_call_goes_on(agent, fakes, failure_name):
    fakes.caller_will_say("Can I talk to a person?", QUESTION)
    fakes.openai.answers = {
        "Can I talk to a person?": ToolCall("transfer_call"),
        QUESTION: "We open at nine.",
    }
    fakes.twilio.failure = rest_failure(failure_name, match="Twiml")

    async def scenario():
        async with new_caller(agent, parameters=INBOUND) as caller:
            await hear_greeting(caller)
            await caller.say(question())
            await wait_until(lambda: TRANSFER_FAILED in fakes.spoken(), timeout=20, what="the apology")
            await caller.wait_for_quiet(timeout=20)
            await caller.say(question())
            # The call went on: the caller's next turn is answered.
            await wait_until(lambda: "We open at nine." in fakes.spoken(), timeout=20, what="the answer")
            await caller.hang_up()
            return caller

    caller = run(scenario())
    tool_results = [message["content"] for message in fakes.openai.tool_results()]
    assert any('"transferred": false' in result for result in tool_results), tool_results
    assert f"Call {caller.call_sid}: transfer to {settings.TRANSFER_NUMBER.default} failed" in agent.log()
    assert not [r for r in hang_ups_for(fakes, caller) if r.form.get("Status") != "completed"]
    assert_no_secret(agent.log())


async def while_the_hold_message_plays(agent, fakes, caller) -> None:
    fakes.caller_will_say("Can I talk to a person?")
    fakes.openai.answers = {"Can I talk to a person?": ToolCall("transfer_call")}
    await hear_greeting(caller)
    await caller.say(question())
    await wait_until(lambda: TRANSFERRING in fakes.spoken(), timeout=20, what="the hold message")


async def while_twilio_redirects(agent, fakes, caller) -> None:
    fakes.twilio.failure = RestFailure(match="Twiml", status=None, delay=SLOW_TWILIO_ANSWER_SECS)
    await while_the_hold_message_plays(agent, fakes, caller)
    transfer = lambda: [r for r in requests_for(fakes, caller) if "Twiml" in r.form]  # noqa: E731
    await wait_until(transfer, timeout=20, what="the transfer request")


TRANSFER_POINTS = {"hold-message": while_the_hold_message_plays, "redirect": while_twilio_redirects}


@pytest.mark.parametrize("point", TRANSFER_POINTS)
@pytest.mark.parametrize("kind", CUTS)
def test_a_dead_line_during_the_transfer_ends_the_call_cleanly(agent, fakes, kind, point):
    caller, seconds = assert_cut_cleanly(agent, fakes, kind, TRANSFER_POINTS[point])
    print(f"{kind} at transfer {point}: the call ended {seconds:.2f} s later")
    transfers = [r for r in requests_for(fakes, caller) if "Twiml" in r.form]
    # A caller who hung up during the hold message is not transferred.
    assert len(transfers) == (1 if point == "redirect" else 0)
    # Nor hung up: the line is gone, or the call may be Twilio's <Dial> by now.
    assert hang_ups_for(fakes, caller) == []
    # Twilio closes the stream as it moves the call: a close during the redirect counts as the transfer.
    assert report_of(agent, caller)["ended_by"] == ("transfer" if point == "redirect" else "caller")
