"""Keypad input: digits and # reach the LLM as one user message."""

import asyncio
import time

from tests.calling import INBOUND, SLOW_TWILIO_ANSWER_SECS, new_caller, requests_for, run, wait_until
from tests.fakes.twilio_rest import RestFailure


def test_dtmf_digits_and_pound_become_one_llm_message(agent, fakes):
    async def scenario():
        async with new_caller(agent, parameters=INBOUND) as caller:
            await caller.start()
            await caller.wait_for("media")
            for digit in "1234#":
                await caller.press(digit)
            await wait_until(
                lambda: "The caller entered 1234#" in fakes.user_messages(), what="the DTMF message"
            )
            await caller.hang_up()

    run(scenario())


def test_digits_wait_until_twilio_confirms_the_call(agent, fakes):
    fakes.twilio.failure = RestFailure(match="GET", status=None, delay=SLOW_TWILIO_ANSWER_SECS)

    async def scenario():
        async with new_caller(agent, parameters=INBOUND) as caller:
            await caller.start()
            for digit in "42#":  # "#" sends the digits on at once
                await caller.press(digit)
            await wait_until(lambda: entered(fakes), timeout=15, what="the digits to reach the LLM")
            reached_llm_at = time.monotonic()
            await caller.hang_up()
            return caller, reached_llm_at

    caller, reached_llm_at = run(scenario())
    check = next(r for r in requests_for(fakes, caller) if r.method == "GET")
    assert reached_llm_at > check.at + SLOW_TWILIO_ANSWER_SECS  # held until Twilio had answered


def test_digits_of_a_forged_stream_never_reach_the_llm(agent, fakes):
    fakes.twilio.failure = RestFailure(match="GET", status=None, delay=SLOW_TWILIO_ANSWER_SECS)
    caller = new_caller(agent, registered=False, parameters=INBOUND)

    async def scenario():
        async with caller:
            await caller.start()
            for digit in "42#":
                await caller.press(digit)
            await wait_until(lambda: caller.closed, timeout=10, what="the bot to close the stream")
            await asyncio.sleep(1.0)  # room for a request the gate should have held

    run(scenario())
    assert not entered(fakes)
    assert f"Call {caller.call_sid}: refused: Twilio has no such call" in agent.log()


def entered(fakes) -> bool:
    """The LLM was asked about the digits 42."""
    return any("The caller entered 42#" in message for message in fakes.user_messages())
