"""transfer_mode=cold: the live call is redirected to a <Dial>, and never hung up after it; when the dialed
leg ends, unanswered or over, Twilio brings the caller back to the bot on a new stream."""

import asyncio

import pytest

import settings
from phone import twiml
from phrases import BACK_FROM_TRANSFER, RETURNING_FROM_TRANSFER, TRANSFER_UNANSWERED, TRANSFERRING
from tests.calling import (
    INBOUND,
    QUESTION,
    hang_ups_for,
    hear_greeting,
    new_caller,
    question,
    requests_for,
    rest_failure,
    run,
)
from tests.fakes.openai_server import ToolCall
from tests.faults import report_of
from tests.test_transfer import (
    WANTS_A_PERSON,
    come_back,
    stream_back,
    transfer_requests,
    transferred_call,
    until_transferred,
)


def expected_transfer_twiml(call_parameters: dict[str, str]) -> str:
    """The whole document the bot must send: the <Dial>, Twilio's one sentence, and the way back."""
    parameters = "".join(
        f'\n      <Parameter name="{name}" value="{value}" />'
        for name, value in {**call_parameters, "transfer_result": "returned"}.items()
    )
    number, caller_id = settings.TRANSFER_NUMBER.default, INBOUND["to_number"]
    ring_secs = settings.TRANSFER_RING_SECS.default
    dial = f'<Dial timeout="{ring_secs}" callerId="{caller_id}">{number}</Dial>'
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Response>\n  {dial}\n'
        f"  <Say>{RETURNING_FROM_TRANSFER}</Say>\n"
        "  <Connect>\n"
        f'    <Stream url="{twiml.STREAM_URL}">\n'
        f'      <Parameter name="_pipecatCloudServiceHost" value="{twiml.SERVICE_HOST}" />{parameters}\n'
        "    </Stream>\n  </Connect>\n</Response>\n"
    )


def test_transfer_dials_the_number_and_never_hangs_up(agent, fakes):
    fakes.caller_will_say(WANTS_A_PERSON)
    fakes.openai.answers = {WANTS_A_PERSON: ToolCall("transfer_call")}

    async def scenario():
        async with new_caller(agent, parameters=INBOUND) as caller:
            await hear_greeting(caller)
            await caller.say(question())
            await until_transferred(fakes, caller)
            await asyncio.sleep(2.0)  # room for a wrong hang-up after the transfer
            return caller

    caller = run(scenario())
    call_path = f"/2010-04-01/Accounts/{caller.account_sid}/Calls/{caller.call_sid}.json"
    updates = [r for r in requests_for(fakes, caller) if r.method == "POST" and r.path == call_path]
    assert len(updates) == 1 and set(updates[0].form) == {"Twiml"}
    assert updates[0].form["Twiml"] == expected_transfer_twiml(INBOUND)
    assert hang_ups_for(fakes, caller) == []
    assert TRANSFERRING in fakes.spoken()
    assert f"Call {caller.call_sid}: transferred to {settings.TRANSFER_NUMBER.default}" in agent.log()
    assert report_of(agent, caller)["ended_by"] == "transfer"


# How the dialed leg ended (Twilio's Call.status), and what the caller hears back with the bot.
LEG_OUTCOMES = {
    "busy": TRANSFER_UNANSWERED,
    "no-answer": TRANSFER_UNANSWERED,
    "failed": TRANSFER_UNANSWERED,
    "completed": BACK_FROM_TRANSFER,  # the colleague took the call, then hung up
    "unknown": BACK_FROM_TRANSFER,  # Twilio's REST API could not say
}


@pytest.mark.parametrize("leg_status", LEG_OUTCOMES)
def test_a_transfer_that_ends_brings_the_caller_back_to_the_bot(agent, fakes, leg_status):
    fakes.caller_will_say(WANTS_A_PERSON, QUESTION)
    fakes.openai.answers = {WANTS_A_PERSON: ToolCall("transfer_call"), QUESTION: "We open at nine."}

    async def scenario():
        caller = await transferred_call(agent, fakes)
        [transfer] = transfer_requests(fakes, caller)
        if leg_status == "unknown":
            fakes.twilio.failure = rest_failure("rest-500", match="ParentCallSid")
        else:
            fakes.twilio.dial_leg(caller.call_sid, leg_status)
        back = await come_back(agent, fakes, caller, transfer.form["Twiml"], LEG_OUTCOMES[leg_status])
        return caller, back, stream_back(transfer.form["Twiml"])[0]

    caller, back, url = run(scenario())
    assert url == twiml.STREAM_URL
    assert "We open at nine." in fakes.spoken()  # the caller is back in a conversation
    # In order: the redirect, then, on the new stream, Twilio's verdict on the CallSid and the dialed leg.
    requests = requests_for(fakes, caller)
    redirect = requests.index(transfer_requests(fakes, caller)[0])
    leg_lookup = next(i for i, r in enumerate(requests) if r.query.get("ParentCallSid") == caller.call_sid)
    assert redirect < leg_lookup
    assert hang_ups_for(fakes, caller) == []  # never during the transfer, and the caller hung up last
    assert report_of(agent, caller)["ended_by"] == "transfer"
    back_report = report_of(agent, back)
    assert back_report["ended_by"] == "caller" and back_report["turns"] == 1
    shown = None if leg_status == "unknown" else leg_status
    if leg_status == "unknown":
        assert "how the transfer ended is unknown (Twilio answered 500: Unable to fetch page)" in agent.log()
    assert f"Call {caller.call_sid}: back from the transfer ({shown})" in agent.log()


def test_a_self_hosted_agent_brings_the_caller_back_to_its_own_server(fresh_server, fakes):
    """server.py serves the stream itself: the way back is PUBLIC_URL's /ws, with no Pipecat Cloud routing."""
    server = fresh_server("server", PUBLIC_URL="https://agent.example.test", TWILIO_SIGNATURE_CHECK="off")
    fakes.caller_will_say(WANTS_A_PERSON)
    fakes.openai.answers = {WANTS_A_PERSON: ToolCall("transfer_call")}

    caller = run(transferred_call(server, fakes))
    [transfer] = transfer_requests(fakes, caller)
    url, parameters = stream_back(transfer.form["Twiml"])
    assert url == "wss://agent.example.test/ws"
    assert parameters == {**INBOUND, "transfer_result": "returned"}
