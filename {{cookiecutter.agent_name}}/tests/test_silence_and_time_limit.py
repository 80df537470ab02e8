"""A call never hangs in silence: a quiet caller is checked on once and then the call ends, and no call
outlasts MAX_CALL_SECS. The limits are short here, set through the environment as a team would set them."""

import time

import pytest

from phrases import IDLE_GOODBYE, STILL_THERE, TIME_LIMIT_GOODBYE, TIME_LIMIT_NOTICE
from tests.calling import QUESTION, ask, hang_ups_for, hear_greeting, new_caller, run, wait_until
from tests.faults import SENT_AHEAD_SECS, SPEAKING_ALLOWANCE_SECS, first_heard, heard, report_of

IDLE_SECS = 2.0
LIMIT_SECS = 8.0
NOTICE_AT_SECS = LIMIT_SECS - LIMIT_SECS / 4  # a quarter of so short a call before its end


def spoken(fakes, text: str, after: float = 0.0) -> bool:
    return fakes.asked_to_speak(text, after=after) is not None


@pytest.mark.parametrize("mode", ["cloud", "local"])
def test_a_silent_caller_is_checked_on_once_then_the_call_ends(fresh_server, fakes, mode):
    server = fresh_server(mode, IDLE_TIMEOUT_SECS=str(IDLE_SECS))

    async def scenario():
        async with new_caller(server) as caller:
            await hear_greeting(caller)
            await wait_until(lambda: caller.closed, timeout=30, what="the bot to end the call")
            return caller

    caller = run(scenario())
    greeting_over = heard(caller)[0][1]
    check_in = fakes.asked_to_speak(STILL_THERE, after=greeting_over)
    assert check_in is not None, "no check-in"
    # The silence is timed from the end of the greeting the caller heard (it played from the cache).
    assert IDLE_SECS - SENT_AHEAD_SECS <= check_in - greeting_over <= IDLE_SECS + SPEAKING_ALLOWANCE_SECS
    check_in_heard = first_heard(caller, check_in)
    assert check_in_heard is not None
    check_in_over = next(end for start, end in heard(caller) if start >= check_in_heard)
    goodbye = fakes.asked_to_speak(IDLE_GOODBYE, after=check_in)
    assert goodbye is not None, "no goodbye after the second silence"
    assert IDLE_SECS - SENT_AHEAD_SECS <= goodbye - check_in_over <= IDLE_SECS + SPEAKING_ALLOWANCE_SECS
    assert first_heard(caller, goodbye) is not None  # heard before the line closed
    assert not spoken(fakes, STILL_THERE, after=check_in)  # checked on once
    assert len(hang_ups_for(fakes, caller)) == 1
    assert f"Call {caller.call_sid}: silent again after the check-in, ending the call" in server.log()
    assert report_of(server, caller)["ended_by"] == "idle"


def test_a_caller_who_answers_the_check_in_keeps_the_call(fresh_server, fakes):
    server = fresh_server("cloud", IDLE_TIMEOUT_SECS=str(IDLE_SECS))
    fakes.caller_will_say(QUESTION)

    async def scenario():
        async with new_caller(server) as caller:
            await hear_greeting(caller)
            await wait_until(lambda: spoken(fakes, STILL_THERE), timeout=10, what="the check-in")
            await caller.wait_for_quiet()
            spoke_until = await ask(caller)
            await caller.wait_for_quiet()
            # Answering resets the count: the next silence gets a check-in again, not the goodbye.
            checked_in_again = lambda: spoken(fakes, STILL_THERE, after=spoke_until)  # noqa: E731
            await wait_until(checked_in_again, timeout=10, what="a second check-in")
            await caller.hang_up()
            ended = f"Call {caller.call_sid} ended"
            await wait_until(lambda: ended in server.log(), timeout=10, what="the call to end")
            return caller, spoke_until

    caller, _ = run(scenario())
    assert QUESTION in fakes.user_messages(), "not answered"
    assert not spoken(fakes, IDLE_GOODBYE)
    assert f"Call {caller.call_sid}: the caller hung up" in server.log()  # not the bot
    assert report_of(server, caller)["ended_by"] == "caller"


def test_the_time_limit_warns_then_ends_the_call_once(fresh_server, fakes):
    # No idle check-in: only the limit ends this quiet call.
    server = fresh_server("cloud", MAX_CALL_SECS=str(LIMIT_SECS), IDLE_TIMEOUT_SECS="0")
    fakes.caller_will_say(QUESTION)

    async def scenario():
        async with new_caller(server) as caller:
            started = time.monotonic()
            await hear_greeting(caller)
            await ask(caller)
            await wait_until(lambda: caller.closed, timeout=30, what="the time limit to end the call")
            return caller, started

    caller, started = run(scenario())
    notice = fakes.asked_to_speak(TIME_LIMIT_NOTICE, after=started)
    goodbye = fakes.asked_to_speak(TIME_LIMIT_GOODBYE, after=started)
    assert notice is not None and goodbye is not None
    assert NOTICE_AT_SECS <= notice - started <= NOTICE_AT_SECS + SPEAKING_ALLOWANCE_SECS
    assert LIMIT_SECS <= goodbye - started <= LIMIT_SECS + SPEAKING_ALLOWANCE_SECS
    assert first_heard(caller, goodbye) is not None
    assert not spoken(fakes, STILL_THERE)
    assert len(hang_ups_for(fakes, caller)) == 1
    assert report_of(server, caller)["ended_by"] == "time_limit"
