"""Calls the bot placed, answered by a person or by an answering machine (call_control/voicemail.py).

The callee is the fake caller: a person says "Hello?"; a machine plays a recorded greeting, with or
without a beep after it. The LLM fake judges the transcript as an LLM would (a greeting's words make
it a voicemail), and the bot must wait out the greeting, leave its one message, and hang up once.
"""

import asyncio

import pytest

from phrases import VOICEMAIL_MESSAGE
from tests.calling import AUDIO, hang_ups_for, new_caller, run, wait_until
from tests.fakes.audio import tone
from tests.fakes.twilio_caller import SAMPLE_RATE, read_wav
from tests.faults import heard, report_of

OUTBOUND = {"direction": "outbound", "from_number": "+15550009999", "to_number": "+15557654321"}
# What audio/voicemail_greeting.wav says, one transcript per sentence, as a speech-to-text hears its pauses.
GREETING = [
    "Hi, you have reached Dana.",
    "I'm not available right now.",
    "Please leave a message after the tone.",
]
REPLY = "Hi Dana, this is the clinic calling about your appointment."
BEEP = tone(0.6, SAMPLE_RATE, frequency=1000.0)
PAUSE = bytes(int(0.4 * SAMPLE_RATE) * 2)  # the machine's pause before its beep


@pytest.mark.parametrize("beep", [True, False], ids=["greeting-then-beep", "greeting-no-beep"])
def test_a_machine_gets_one_message_after_its_greeting_then_one_hang_up(agent, fakes, beep):
    fakes.caller_will_say(*GREETING)
    fakes.openai.default_reply = REPLY

    async def scenario():
        async with new_caller(agent, parameters=OUTBOUND) as machine:
            await machine.start()
            greeting_over = await machine.say(read_wav(AUDIO / "voicemail_greeting.wav"))
            if beep:
                greeting_over = await machine.say(PAUSE + BEEP)
            await wait_until(lambda: machine.closed, timeout=30, what="the bot to hang up")
            return machine, greeting_over

    machine, greeting_over = run(scenario())
    message_asked = fakes.asked_to_speak(VOICEMAIL_MESSAGE)
    assert message_asked is not None, "no message was left"
    assert fakes.spoken().count(VOICEMAIL_MESSAGE) == 1
    # Nothing talked over the greeting or the beep: all the machine recorded is the message, once.
    stretches = heard(machine)
    assert stretches, "the machine recorded nothing"
    assert stretches[0][0] > greeting_over
    assert stretches[0][0] >= message_asked
    assert len(hang_ups_for(fakes, machine)) == 1
    assert "voicemail" in [choice for _, choice in fakes.openai.classifications]
    assert f"Call {machine.call_sid}: an answering machine answered; leaving the message" in agent.log()
    assert report_of(agent, machine)["ended_by"] == "voicemail"


def test_a_person_who_answers_gets_a_conversation(agent, fakes):
    fakes.caller_will_say("Hello?")
    fakes.openai.default_reply = REPLY

    async def scenario():
        async with new_caller(agent, parameters=OUTBOUND) as person:
            await person.start()
            await asyncio.sleep(0.5)
            spoke_until = await person.say(read_wav(AUDIO / "hello.wav"))
            await person.wait_for("media", after=spoke_until, timeout=20)
            await person.wait_for_quiet()
            await person.hang_up()
            return person

    person = run(scenario())
    assert REPLY in fakes.spoken()
    assert VOICEMAIL_MESSAGE not in fakes.spoken()
    assert ("Hello?", "conversation") in fakes.openai.classifications
    assert hang_ups_for(fakes, person) == []  # the person hung up
    assert f"Call {person.call_sid}: a person answered" in agent.log()
    assert report_of(agent, person)["ended_by"] == "caller"


def test_calls_the_bot_answers_are_not_classified(agent, fakes):
    """An inbound caller is a person: no classification, no held-back speech."""

    async def scenario():
        async with new_caller(agent) as caller:
            await caller.start()
            await caller.wait_for("media")
            await caller.hang_up()

    run(scenario())
    assert fakes.openai.classifications == []
