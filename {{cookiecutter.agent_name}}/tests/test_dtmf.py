"""Keypad input: digits and # reach the LLM as one user message."""

from tests.calling import INBOUND, new_caller, run, wait_until


def test_dtmf_digits_and_pound_become_one_llm_message(agent, fakes):
    async def scenario():
        async with new_caller(agent, parameters=INBOUND) as caller:
            await caller.start()
            await caller.wait_for("media")
            for digit in "1234#":
                await caller.press(digit)
            await wait_until(
                lambda: "The caller entered 1234#" in fakes.openai.user_messages(), what="the DTMF message"
            )
            await caller.hang_up()

    run(scenario())
