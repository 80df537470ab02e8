"""The record each call leaves (call_control/call_report.py): in the log, at CALL_REPORT_URL, and harmless
when that endpoint fails. tests/conftest.py checks that every call of every test leaves exactly one."""

from datetime import datetime

import pytest

from tests.calling import (
    QUESTION,
    ask,
    hang_ups_for,
    hear_greeting,
    new_caller,
    question,
    run,
    wait_until,
)
from tests.fakes.openai_server import ToolCall
from tests.faults import WARNING, report_of

GOODBYE_SAID = "That is all, goodbye."


def ended(server, caller) -> bool:
    return f"Call {caller.call_sid} ended" in server.log()


def end_call_conversation(agent, fakes):
    """A caller asks one question, says goodbye, and the LLM ends the call; returns when bot() returned."""
    fakes.caller_will_say(QUESTION, GOODBYE_SAID)
    fakes.openai.answers = {QUESTION: "We open at nine tomorrow.", GOODBYE_SAID: ToolCall("end_call")}

    async def scenario():
        async with new_caller(agent) as caller:
            await hear_greeting(caller)
            await ask(caller)
            await caller.wait_for_quiet()
            await caller.say(question())
            await wait_until(lambda: caller.closed, timeout=20, what="the bot to end the call")
            await wait_until(lambda: ended(agent, caller), timeout=20, what="bot() to return")
            return caller

    return run(scenario())


def test_a_call_the_bot_ends_is_reported_in_the_log_and_at_the_endpoint(agent, fakes):
    caller = end_call_conversation(agent, fakes)
    record = report_of(agent, caller)
    assert record["call_sid"] == caller.call_sid
    assert record["direction"] == "inbound"
    assert record["ended_by"] == "bot"
    assert record["turns"] == 2
    # At least the answer was measured (the goodbye comes from the tool, not from a reply).
    assert len(record["turn_latency_ms"]) >= 1
    assert all(isinstance(ms, int) and 0 < ms < 20_000 for ms in record["turn_latency_ms"])
    assert record["tools"] == ["end_call"]
    assert record["errors"] == []
    assert 0 < record["duration_secs"] < 60
    assert datetime.fromisoformat(record["started_at"]).tzinfo is not None
    assert "transcript" not in record  # personal data: off unless CALL_REPORT_TRANSCRIPT=yes
    assert fakes.reports.reports_for(caller.call_sid) == [record]


def answered_then_hung_up(server, fakes):
    """A caller asks one question, hears the whole answer and hangs up; returns when bot() returned."""
    fakes.caller_will_say(QUESTION)
    fakes.openai.answers = {QUESTION: "We open at nine tomorrow."}

    async def scenario():
        async with new_caller(server) as caller:
            await hear_greeting(caller)
            await ask(caller)
            await caller.wait_for_quiet()
            await caller.hang_up()
            await wait_until(lambda: ended(server, caller), timeout=20, what="bot() to return")
            return caller

    return run(scenario())


def test_a_caller_who_hangs_up_is_reported_as_such(agent, fakes):
    record = report_of(agent, answered_then_hung_up(agent, fakes))
    assert record["ended_by"] == "caller"
    assert record["turns"] == 1 and record["tools"] == []


def test_a_forged_stream_is_reported_as_refused(agent, fakes):
    caller = new_caller(agent, registered=False)

    async def scenario():
        async with caller:
            await caller.start()
            await wait_until(lambda: ended(agent, caller), timeout=20, what="bot() to return")

    run(scenario())
    record = report_of(agent, caller)
    assert record["ended_by"] == "refused"
    assert record["turns"] == 0 and record["turn_latency_ms"] == []
    # Its CallSid is whatever the sender made up: logged, never sent on to the team's endpoint.
    assert fakes.reports.reports_for(caller.call_sid) == []


@pytest.mark.parametrize("failure", ["500", "hang"])
def test_a_failing_report_endpoint_changes_nothing_for_the_caller(agent, fakes, failure):
    if failure == "500":
        fakes.reports.status = 500
    else:
        fakes.reports.hang_secs = 30  # well past CALL_REPORT_TIMEOUT_SECS
    before = len(agent.log())
    caller = end_call_conversation(agent, fakes)

    # The caller heard the answer and the goodbye, and was hung up before the report was sent.
    assert "We open at nine tomorrow." in fakes.spoken()
    posts = [post for post in fakes.reports.posts if post.body["call_sid"] == caller.call_sid]
    assert len(posts) == 2  # the first attempt, and one retry
    [hang_up] = hang_ups_for(fakes, caller)
    assert hang_up.at < posts[0].at
    assert posts[0].body == posts[1].body == report_of(agent, caller)
    # One warning line says so, and it does not show the endpoint's address (it may carry a token).
    log = agent.log()[before:]
    warnings = [line for line in log.splitlines() if WARNING.search(line) and "call report" in line]
    assert len(warnings) == 1, warnings
    reason = "it answered 500" if failure == "500" else "no answer (TimeoutError)"
    assert f"Call {caller.call_sid}: the call report did not reach CALL_REPORT_URL: {reason}" in warnings[0]
    assert fakes.env["CALL_REPORT_URL"] not in log
    assert "Traceback" not in log


def test_the_transcript_is_reported_only_when_asked_for(fresh_server, fakes):
    server = fresh_server("cloud", CALL_REPORT_TRANSCRIPT="yes")
    record = report_of(server, answered_then_hung_up(server, fakes))
    assert {"role": "user", "text": QUESTION} in record["transcript"]
    assert {"role": "assistant", "text": "We open at nine tomorrow."} in record["transcript"]
    assert fakes.reports.reports_for(record["call_sid"]) == [record]
