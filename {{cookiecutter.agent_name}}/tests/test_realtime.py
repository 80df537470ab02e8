"""Calls with the speech-to-speech model (pipeline=realtime) against the fake OpenAI Realtime API, served
both ways: the model greets, converses, is interrupted, ends the call, and a broken model never leaves the
caller in silence."""

import asyncio
import time

from phrases import APOLOGY, GOODBYE, OPENING, SYSTEM_PROMPT
from tests.calling import (
    AUDIO,
    QUESTION,
    ask,
    hang_ups_for,
    hear_greeting,
    new_caller,
    one_question_call,
    question,
    requests_for,
    run,
    wait_until,
)
from tests.fakes.openai_server import ToolCall
from tests.fakes.twilio_caller import read_wav
from tests.faults import report_of
from voice.greeting import spoken_text
from voice.providers import MODEL_RECONNECTS

LONG_REPLY = " ".join(["We are open from nine in the morning until six in the evening."] * 4)
ANSWER = "We open at nine tomorrow."


def test_the_model_greets_the_caller_and_is_set_up_for_the_line(agent, fakes):
    run(one_question_call(agent))

    assert fakes.spoken()[0] == spoken_text(OPENING)
    session = fakes.realtime.session_summary()
    assert session["instructions"].startswith(SYSTEM_PROMPT)  # and what the features add to it
    assert "end_call" in session["tools"]
    # The caller's words are transcribed, for the context and the call report.
    assert session["transcription"]


def test_conversation(agent, fakes):
    fakes.caller_will_say(QUESTION)
    fakes.openai.answers = {QUESTION: ANSWER}

    caller = run(one_question_call(agent))
    assert ANSWER in fakes.spoken()
    assert len(caller.bot_audio()) > 0
    assert "Realtime guard" not in agent.log()


def test_barge_in_cancels_the_reply_and_clears_the_line(agent, fakes):
    fakes.caller_will_say(QUESTION, "Sorry, wait a moment please.")
    fakes.openai.answers = {QUESTION: LONG_REPLY}
    fakes.realtime.real_time = True  # the reply lasts several seconds, so that speech can cut it

    async def scenario():
        async with new_caller(agent) as caller:
            await hear_greeting(caller)
            await ask(caller)
            await asyncio.sleep(1.0)  # well into the reply
            speaking_from = time.monotonic()
            await caller.say(read_wav(AUDIO / "interruption.wav"))
            await caller.wait_for("clear", after=speaking_from)
            await caller.hang_up()
            return speaking_from

    speaking_from = run(scenario())
    assert [at for at, reason in fakes.realtime.cancels if at > speaking_from]


def test_end_call_says_goodbye_then_hangs_up_exactly_once(agent, fakes):
    fakes.caller_will_say("That is all, goodbye.")
    fakes.openai.answers = {"That is all, goodbye.": ToolCall("end_call")}

    async def scenario():
        async with new_caller(agent) as caller:
            await hear_greeting(caller)
            await caller.say(question())
            await wait_until(lambda: hang_ups_for(fakes, caller), timeout=20, what="the REST hang-up")
            await asyncio.sleep(1.0)  # room for a second, wrong hang-up
            return caller

    caller = run(scenario())
    said_goodbye = next(at for at, text in fakes.realtime.spoken if text == GOODBYE)
    [hang_up] = hang_ups_for(fakes, caller)
    assert said_goodbye < hang_up.at  # the goodbye was spoken before the line closed
    call_path = f"/Calls/{caller.call_sid}.json"
    updates = [r for r in requests_for(fakes, caller) if r.method == "POST" and r.path.endswith(call_path)]
    assert [r.form for r in updates] == [{"Status": "completed"}]


def test_a_message_that_does_not_parse_is_skipped_and_the_call_goes_on(agent, fakes):
    fakes.caller_will_say(QUESTION)
    fakes.openai.answers = {QUESTION: ANSWER}
    fakes.realtime.malformed = "not-json"  # sent with the greeting's first audio

    run(one_question_call(agent))
    assert fakes.realtime.injected
    assert ANSWER in fakes.spoken()
    assert agent.log().count("Skipped a message from the speech-to-speech model that does not parse") == 1


def test_an_unknown_event_is_ignored(agent, fakes):
    fakes.caller_will_say(QUESTION)
    fakes.openai.answers = {QUESTION: ANSWER}
    fakes.realtime.malformed = "unknown-event"

    run(one_question_call(agent))
    assert ANSWER in fakes.spoken()


def failed_model_call(agent, fakes, model_fails_after_greeting: bool = False) -> tuple:
    """A call whose model fails, from the start or once it has greeted and the caller asks something: it
    ends with the trouble prompt and one hang-up."""

    async def scenario():
        async with new_caller(agent) as caller:
            await caller.start()
            if model_fails_after_greeting:
                await hear_greeting(caller)
                fakes.realtime.delay = 60  # every response starts, and nothing comes
                await caller.say(question())
            await wait_until(lambda: hang_ups_for(fakes, caller), timeout=30, what="the REST hang-up")
            await asyncio.sleep(0.5)
            return caller

    caller = run(scenario())
    assert len(caller.bot_audio()) > 0  # the prompt, at least
    assert len(hang_ups_for(fakes, caller)) == 1
    assert "playing the technical-trouble prompt and ending the call" in agent.log()
    assert report_of(agent, caller)["ended_by"] == "error"
    return caller


def test_a_model_that_is_down_ends_the_call_with_the_trouble_prompt(agent, fakes):
    fakes.realtime.down = True
    failed_model_call(agent, fakes)


def test_a_model_silent_from_the_start_ends_the_call_with_the_trouble_prompt(agent, fakes):
    fakes.realtime.delay = 60  # the greeting's response starts, and nothing comes
    failed_model_call(agent, fakes)


def test_a_silent_model_is_asked_to_apologize_then_the_call_ends(agent, fakes):
    failed_model_call(agent, fakes, model_fails_after_greeting=True)
    assert "asking it to apologize" in agent.log()
    assert fakes.asked_to_speak(APOLOGY)


def test_a_server_error_or_a_dropped_connection_never_leaves_the_caller_in_silence(agent, fakes):
    for mode in ("error", "close"):
        fakes.realtime.malformed = mode
        if MODEL_RECONNECTS:
            call_goes_on_after_a_reconnection(agent, fakes)
        else:
            failed_model_call(agent, fakes)
        assert fakes.realtime.injected[-1][1] == mode


def call_goes_on_after_a_reconnection(agent, fakes) -> None:
    """The model's service reconnects: the reply the failure cut is lost, the guard has the model apologize
    on its new connection, and the caller's question is answered."""
    fakes.caller_will_say(QUESTION)
    fakes.openai.answers = {QUESTION: ANSWER}
    began = time.monotonic()

    def spoken_since() -> list[str]:
        return [text for at, text in fakes.realtime.spoken if at > began]

    async def scenario():
        async with new_caller(agent) as caller:
            await caller.start()
            await wait_until(lambda: APOLOGY in spoken_since(), timeout=20, what="the apology")
            await caller.wait_for_quiet()
            await ask(caller)
            await caller.hang_up()
            return caller

    caller = run(scenario())
    failed_at = fakes.realtime.injected[-1][0]
    assert [opened for opened, _ in fakes.realtime.connections if opened > failed_at]
    assert ANSWER in spoken_since()
    assert hang_ups_for(fakes, caller) == []  # the caller hung up, not the bot
