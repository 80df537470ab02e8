"""The caller's line dies without a `stop` (a close frame, or a TCP reset) at each stage of a call.

Each time the call ends within 2 s without an error in the log, Twilio gets at most one hang-up, and
the process answers its next call.
"""

import asyncio

import pytest

from tests.calling import QUESTION, ask, hear_greeting, question, wait_until
from tests.fakes.openai_server import ToolCall
from tests.faults import CUTS, assert_cut_cleanly

LONG_REPLY = " ".join(["We are open from nine in the morning until six in the evening."] * 4)
GOODBYE_SAID = "That is all, goodbye."
LLM_HOLD_SECS = 1.5  # the LLM's reply stream opens, and its first token comes this much later


async def during_the_greeting(agent, fakes, caller) -> None:
    await caller.start()
    await caller.wait_for("media")  # the greeting has only just started to play


async def while_the_llm_answers(agent, fakes, caller) -> None:
    fakes.caller_will_say(QUESTION)
    await hear_greeting(caller)
    asked = fakes.model_requests()
    fakes.hold_model(LLM_HOLD_SECS)
    await caller.say(question())
    await wait_until(lambda: fakes.model_requests() > asked, what="the LLM request")


async def while_the_reply_plays(agent, fakes, caller) -> None:
    fakes.caller_will_say(QUESTION)
    fakes.openai.answers = {QUESTION: LONG_REPLY}
    await hear_greeting(caller)
    await ask(caller)
    await asyncio.sleep(1.0)  # well into a reply that lasts several seconds


async def inside_the_end_call_tool(agent, fakes, caller) -> None:
    fakes.caller_will_say(GOODBYE_SAID)
    fakes.openai.answers = {GOODBYE_SAID: ToolCall("end_call")}
    await hear_greeting(caller)
    await caller.say(question())
    ended_by_llm = f"Call {caller.call_sid}: the LLM ended the call"
    await wait_until(lambda: ended_by_llm in agent.log(), timeout=20, what="the end_call tool")


POINTS = {
    "start": None,  # cut in the same write as the stream's `start`: the greeting meets a dead line
    "greeting": during_the_greeting,
    "llm": while_the_llm_answers,
    "tts": while_the_reply_plays,
    "end-call-tool": inside_the_end_call_tool,
}


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("kind", CUTS)
def test_a_dead_line_ends_the_call_cleanly(agent, fakes, kind, point):
    _, seconds = assert_cut_cleanly(agent, fakes, kind, POINTS[point])
    print(f"{kind} at {point}: the call ended {seconds:.2f} s later")
