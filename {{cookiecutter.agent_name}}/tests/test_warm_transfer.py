"""transfer_mode=warm: the caller waits on hold music in a conference while the bot calls the colleague,
whose call says the LLM's summary, then joins; nobody answering brings the caller back to the bot.

The fake Twilio REST API plays the colleague's phone: answered, busy, or ringing on and on.
"""

import pytest

import settings
from call_control.warm_transfer import HOLD_MUSIC_URL
from phone import twiml
from phrases import HANDOVER_INTRO, HANDOVER_SUMMARY_INSTRUCTION, RETURNING_FROM_TRANSFER, TRANSFER_UNANSWERED
from tests.calling import (
    INBOUND,
    QUESTION,
    SLOW_TWILIO_ANSWER_SECS,
    hang_ups_for,
    requests_for,
    rest_failure,
    run,
    wait_until,
)
from tests.fakes.openai_server import ToolCall
from tests.fakes.twilio_rest import RestFailure
from tests.faults import report_of
from tests.test_transfer import WANTS_A_PERSON, come_back, transfer_requests, transferred_call

SUMMARY = "Alice is calling to move her Tuesday appointment."
RING_SECS = 2.0  # TRANSFER_RING_SECS for the test of a phone nobody answers
PLACING_A_CALL = "/Calls.json ['From'"  # a RestFailure match: POST Calls.json with From, To, ...


def stream_back_twiml(caller, result: str) -> str:
    parameters = "".join(
        f'\n      <Parameter name="{name}" value="{value}" />'
        for name, value in {**INBOUND, "transfer_result": result}.items()
    )
    return (
        f"  <Say>{RETURNING_FROM_TRANSFER}</Say>\n"
        "  <Connect>\n"
        f'    <Stream url="{twiml.STREAM_URL}">\n'
        f'      <Parameter name="_pipecatCloudServiceHost" value="{twiml.SERVICE_HOST}" />{parameters}\n'
        "    </Stream>\n  </Connect>\n</Response>\n"
    )


def hold_twiml(caller) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response>\n  <Dial>\n'
        f'    <Conference beep="false" waitUrl="{HOLD_MUSIC_URL.replace("&", "&amp;")}" '
        'startConferenceOnEnter="false" endConferenceOnExit="true">'
        f"transfer-{caller.call_sid}</Conference>\n  </Dial>\n"
        + stream_back_twiml(caller, "conference_ended")
    )


def colleague_twiml(caller) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response>\n'
        f"  <Say>{HANDOVER_INTRO} {SUMMARY}</Say>\n  <Dial>\n"
        '    <Conference beep="false" startConferenceOnEnter="true" endConferenceOnExit="true">'
        f"transfer-{caller.call_sid}</Conference>\n  </Dial>\n</Response>\n"
    )


def colleague_calls(fakes, caller) -> list:
    return [
        r
        for r in fakes.twilio.requests
        if r.path.endswith("/Calls.json")
        and r.method == "POST"
        and caller.call_sid in r.form.get("Twiml", "")
    ]


def leg_requests(fakes, placed) -> list:
    """The updates the bot sent to the colleague's call that `placed` created."""
    path = f"/Calls/{placed.created_sid}.json"
    return [r for r in fakes.twilio.requests if r.method == "POST" and r.path.endswith(path)]


def script(fakes) -> None:
    fakes.caller_will_say(WANTS_A_PERSON, QUESTION)
    fakes.openai.answers = {WANTS_A_PERSON: ToolCall("transfer_call"), QUESTION: "We open at nine."}
    fakes.openai.default_reply = SUMMARY  # what the summary request gets


def test_the_colleague_hears_the_summary_then_joins_the_caller_on_hold(agent, fakes):
    script(fakes)
    caller = run(transferred_call(agent, fakes))
    run(wait_until(lambda: colleague_calls(fakes, caller), timeout=10, what="the colleague's call"))
    joined = f"Call {caller.call_sid}: the warm transfer to {settings.TRANSFER_NUMBER.default}: joined"
    run(wait_until(lambda: joined in agent.log(), timeout=10, what="the colleague to join"))

    [hold] = transfer_requests(fakes, caller)
    assert hold.form == {"Twiml": hold_twiml(caller)}
    [placed] = colleague_calls(fakes, caller)
    assert placed.form == {
        "To": settings.TRANSFER_NUMBER.default,
        "From": INBOUND["to_number"],
        "Twiml": colleague_twiml(caller),
        "Timeout": settings.TRANSFER_RING_SECS.default,
        "MachineDetection": "Enable",
    }
    # The caller is on hold before the colleague's phone rings.
    assert hold.at < placed.at
    [summary_request] = [
        request
        for request in fakes.openai.chat_requests
        if request["messages"][0]["content"] == HANDOVER_SUMMARY_INSTRUCTION and not request.get("stream")
    ]
    assert f"user: {WANTS_A_PERSON}" in summary_request["messages"][-1]["content"]
    # The bot let go of the bridged call: no hang-up, no second redirect.
    assert hang_ups_for(fakes, caller) == []
    assert transfer_requests(fakes, caller) == [hold]
    assert report_of(agent, caller)["ended_by"] == "transfer"


# How the colleague's call goes, as the fake Twilio REST API plays it.
NOT_TAKEN = {
    "busy": {"placed_calls_become": "busy"},
    "no-answer": {"placed_calls_become": "no-answer"},
    "failed": {"placed_calls_become": "failed"},
    "answered-by-a-machine": {"placed_calls_answered_by": "machine_start"},
    "hung-up-during-the-summary": {"placed_calls_become": "completed", "colleagues_join": False},
}


@pytest.mark.parametrize("colleague", [*NOT_TAKEN, "cannot-be-placed"])
def test_a_colleague_who_cannot_take_it_sends_the_caller_back_to_the_bot(agent, fakes, colleague):
    script(fakes)
    if colleague == "cannot-be-placed":
        fakes.twilio.failure = rest_failure("rest-500", match=PLACING_A_CALL)
    for name, value in NOT_TAKEN.get(colleague, {}).items():
        setattr(fakes.twilio, name, value)

    async def scenario():
        caller = await transferred_call(agent, fakes)
        await wait_until(lambda: len(transfer_requests(fakes, caller)) == 2, timeout=15, what="the way back")
        fakes.twilio.failure = None
        way_back = transfer_requests(fakes, caller)[1].form["Twiml"]
        back = await come_back(agent, fakes, caller, way_back, TRANSFER_UNANSWERED)
        return caller, back

    caller, back = run(scenario())
    hold, way_back = transfer_requests(fakes, caller)
    assert hold.form["Twiml"] == hold_twiml(caller)
    document = '<?xml version="1.0" encoding="UTF-8"?>\n<Response>\n' + stream_back_twiml(
        caller, "unanswered"
    )
    assert way_back.form["Twiml"] == document
    assert "We open at nine." in fakes.spoken()
    assert hang_ups_for(fakes, caller) == []
    if colleague == "answered-by-a-machine":  # hung up before the machine could join the caller
        [placed] = colleague_calls(fakes, caller)
        assert fakes.twilio.calls[placed.created_sid]["answered_by"] == "machine_start"
        assert [r.form for r in leg_requests(fakes, placed)][-1] == {"Status": "completed"}
    # The bot knew the outcome: no question to Twilio about a dialed leg.
    assert not [r for r in requests_for(fakes, caller) if "ParentCallSid" in r.query]
    assert report_of(agent, back)["ended_by"] == "caller"


def test_a_caller_who_hangs_up_on_hold_takes_the_colleagues_call_with_them(agent, fakes):
    script(fakes)
    fakes.twilio.placed_calls_become = "ringing"

    async def scenario():
        caller = await transferred_call(agent, fakes)
        await wait_until(lambda: colleague_calls(fakes, caller), timeout=10, what="the colleague's call")
        fakes.twilio.calls[caller.call_sid]["status"] = (
            "completed"  # Twilio's record once the caller hangs up
        )
        await wait_until(
            lambda: "the caller hung up on hold" in agent.log(), timeout=10, what="the bot to see it"
        )
        return caller

    caller = run(scenario())
    [placed] = colleague_calls(fakes, caller)
    run(wait_until(lambda: leg_requests(fakes, placed), timeout=10, what="the colleague's call stopped"))
    assert [r.form for r in leg_requests(fakes, placed)] == [{"Status": "canceled"}]
    assert fakes.twilio.calls[placed.created_sid]["status"] == "canceled"
    assert transfer_requests(fakes, caller) == transfer_requests(fakes, caller)[:1]  # not brought back


def test_a_stream_that_closes_as_twilio_moves_the_call_still_hands_over(agent, fakes):
    """Twilio may close the stream before it answers the redirect: the handover goes on regardless."""
    script(fakes)
    fakes.twilio.failure = RestFailure(match="Twiml", status=None, delay=SLOW_TWILIO_ANSWER_SECS)
    caller = run(transferred_call(agent, fakes))  # hangs up as the redirect arrives, before Twilio answers
    run(wait_until(lambda: colleague_calls(fakes, caller), timeout=10, what="the colleague's call"))
    joined = f"Call {caller.call_sid}: the warm transfer to {settings.TRANSFER_NUMBER.default}: joined"
    run(wait_until(lambda: joined in agent.log(), timeout=10, what="the handover"))
    # The stream closed while the bot was still waiting for Twilio to take the call.
    assert f"Call {caller.call_sid}: the caller hung up" in agent.log()
    assert report_of(agent, caller)["ended_by"] == "transfer"


def test_a_phone_nobody_answers_stops_ringing_and_the_caller_is_back(fresh_server, fakes):
    server = fresh_server("cloud", TRANSFER_RING_SECS=f"{RING_SECS:g}")
    script(fakes)
    fakes.twilio.placed_calls_become = "ringing"

    async def scenario():
        caller = await transferred_call(server, fakes)
        await wait_until(lambda: len(transfer_requests(fakes, caller)) == 2, timeout=20, what="the way back")
        return caller

    caller = run(scenario())
    [placed] = colleague_calls(fakes, caller)
    cancel = [r for r in leg_requests(fakes, placed) if r.form == {"Status": "canceled"}]
    assert len(cancel) == 1
    assert fakes.twilio.calls[placed.created_sid]["to"] == settings.TRANSFER_NUMBER.default
    hold, way_back = transfer_requests(fakes, caller)
    assert placed.at < cancel[0].at < way_back.at  # the ringing stops before the caller leaves the hold
    assert '<Parameter name="transfer_result" value="unanswered" />' in way_back.form["Twiml"]
    assert hang_ups_for(fakes, caller) == []
