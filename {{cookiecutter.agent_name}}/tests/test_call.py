"""Phone calls against the real bot, served both ways, over a real WebSocket, with every peer faked."""

import asyncio
import time

import pytest

from phrases import APOLOGY, GOODBYE, OPENING
from settings import MissingSetting
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
from voice.greeting import spoken_text

LONG_REPLY = " ".join(["We are open from nine in the morning until six in the evening."] * 4)


def test_greeting(agent, fakes):
    async def scenario():
        parameters = {"from_number": "+15550001111", "to_number": "+15550002222"}
        async with new_caller(agent, parameters=parameters) as caller:
            await caller.start()
            media = await caller.wait_for("media", count=5)
            await caller.hang_up()
            return caller, media

    caller, media = run(scenario())
    assert all(item.message["streamSid"] == caller.stream_sid for item in media)
    # The greeting was synthesized when the server warmed up: this call plays it without the TTS.
    assert len(caller.bot_audio()) > 0
    assert spoken_text(OPENING) not in fakes.spoken()
    assert APOLOGY not in fakes.spoken()


def test_conversation(agent, fakes):
    fakes.caller_will_say(QUESTION)
    fakes.openai.answers = {QUESTION: "We open at nine tomorrow."}

    run(one_question_call(agent))
    assert QUESTION in fakes.openai.user_messages()
    assert "We open at nine tomorrow." in fakes.spoken()
    assert APOLOGY not in fakes.spoken()


def test_barge_in_clears_the_bot_audio(agent, fakes):
    fakes.caller_will_say(QUESTION, "Sorry, wait a moment please.")
    fakes.openai.answers = {QUESTION: LONG_REPLY}

    async def scenario():
        async with new_caller(agent) as caller:
            await hear_greeting(caller)
            await ask(caller)
            await asyncio.sleep(1.0)  # well into a reply that lasts several seconds
            speaking_from = time.monotonic()
            await caller.say(read_wav(AUDIO / "interruption.wav"))
            await caller.wait_for("clear", after=speaking_from)
            await caller.hang_up()
            return caller, speaking_from

    caller, speaking_from = run(scenario())
    # The bot was talking when the caller started (pipecat also sends `clear` at a quiet turn start).
    assert [m for m in caller.events("media") if speaking_from - 0.3 < m.at <= speaking_from]
    assert caller.events("clear", after=speaking_from)


def test_caller_hang_up_ends_the_call_cleanly(agent, fakes):
    async def scenario():
        async with new_caller(agent) as caller:
            await caller.start()
            await caller.wait_for("media")
            await caller.hang_up()
        await wait_until(lambda: f"Call {caller.call_sid}: the caller hung up" in agent.log(), what="the log")
        await asyncio.sleep(1.0)  # room for a wrong, late hang-up request to show up
        return caller

    caller = run(scenario())
    assert "Traceback" not in agent.log()
    hang_ups = hang_ups_for(fakes, caller)
    assert len(hang_ups) <= 1
    for request in hang_ups:
        assert request.username == caller.account_sid


def test_bot_ended_call_hangs_up_exactly_once(agent, fakes):
    fakes.caller_will_say("That is all, goodbye.")
    fakes.openai.answers = {"That is all, goodbye.": ToolCall("end_call")}

    async def scenario():
        async with new_caller(agent) as caller:
            await caller.start()
            await caller.wait_for("media")
            await caller.wait_for_quiet()
            await caller.say(question())
            await wait_until(lambda: hang_ups_for(fakes, caller), timeout=20, what="the REST hang-up")
            await asyncio.sleep(1.0)  # room for a second, wrong hang-up
            return caller

    caller = run(scenario())
    assert GOODBYE in fakes.spoken()
    # The serializer's auto hang-up is the only one: no second request from the tool.
    call_path = f"/Calls/{caller.call_sid}.json"
    updates = [r for r in requests_for(fakes, caller) if r.method == "POST" and r.path.endswith(call_path)]
    assert [r.form for r in updates] == [{"Status": "completed"}]
    assert updates[0].username == caller.account_sid


def test_missing_twilio_credentials_fail_with_a_clear_message(monkeypatch):
    from settings import twilio_credentials

    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    with pytest.raises(MissingSetting, match=r"^TWILIO_AUTH_TOKEN is not set: .*\.env"):
        twilio_credentials()
