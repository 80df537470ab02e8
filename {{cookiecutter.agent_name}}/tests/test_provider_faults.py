"""Provider faults in a call: each is answered by a short fallback line or a polite goodbye, never silence.

The fakes fail the way each provider does. The fake caller measures the dead air it heard, on Twilio's
playback clock: the longest stretch without bot audio from the moment it stopped speaking until the
fallback began. The fallback is due within REPLY_TIMEOUT_SECS (2 s in the tests' environment), plus
SPEAKING_ALLOWANCE_SECS for the turn detection before and the fallback's first audio after. Each fault
is one WARNING line from the reply guard that names the provider, with no traceback and no secret.
"""

import asyncio
import wave

import pytest

from phrases import APOLOGY, NOT_HEARD
from phrases.recordings import RECORDINGS_DIR
from tests.calling import (
    QUESTION,
    ask,
    assert_no_secret,
    hang_ups_for,
    hear_greeting,
    new_caller,
    question,
    run,
    wait_until,
)
from tests.fakes.openai_server import Failure
from tests.faults import (
    SPEAKING_ALLOWANCE_SECS,
    LogSlice,
    assert_dead_air,
    first_heard,
    guard_warnings,
    played,
    report_of,
)

ANSWER = "We open at nine tomorrow."
# Three sentences, so that a connection lost in the first takes the rest of the reply with it.
LONG_ANSWER = "We open at nine tomorrow morning. The shop is on Main Street, by the bakery. Parking is free."


def reply_timeout(fakes) -> float:
    return float(fakes.env["REPLY_TIMEOUT_SECS"])


def assert_one_warning(log: LogSlice, fakes, provider: str) -> None:
    """One line says what failed and names the provider (a pipecat class: ...LLMService, ...TTSService)."""
    warnings = guard_warnings(log)
    assert len(warnings) == 1, warnings
    assert provider in warnings[0]
    assert "Traceback" not in log.text()
    assert_no_secret(log.text())


def hear_the_fallback(agent, fakes, fault, fallback: str, ask_again: bool = False):
    """A call: the greeting, then `fault()` and the question, and `fallback` heard to its end.

    With `ask_again`, the caller then asks once more and hears the start of the answer. Returns the caller
    and when it stopped asking the first time.
    """

    async def scenario():
        async with new_caller(agent) as caller:
            await hear_greeting(caller)
            fault()
            spoke_until = await caller.say(question())
            await wait_until(lambda: fakes.asked_to_speak(fallback, after=spoke_until), what=repr(fallback))
            await caller.wait_for("media", after=fakes.asked_to_speak(fallback, after=spoke_until))
            await caller.wait_for_quiet()
            if ask_again:
                await ask(caller)
                await caller.wait_for_quiet()
            await caller.hang_up()
            return caller, spoke_until

    return run(scenario())


@pytest.mark.parametrize(
    "failure",
    [Failure(status=500), Failure(status=None, delay=4, stream_first=True), Failure(status=None, delay=30)],
    ids=["llm-500", "llm-late-first-token", "llm-hang"],
)
def test_an_llm_fault_gets_an_apology_in_time(agent, fakes, request, failure):
    fault = request.node.callspec.id.split("-", 1)[1]  # the id after the serving mode
    fakes.caller_will_say(QUESTION)
    log = LogSlice(agent)

    def fail() -> None:
        fakes.openai.failure = failure

    caller, spoke_until = hear_the_fallback(agent, fakes, fail, APOLOGY)
    apology_at = fakes.asked_to_speak(APOLOGY, after=spoke_until)
    limit = reply_timeout(fakes) + SPEAKING_ALLOWANCE_SECS
    assert_dead_air(fault, caller, spoke_until, first_heard(caller, apology_at), limit)
    assert first_heard(caller, spoke_until) == first_heard(caller, apology_at)  # nothing before it
    assert hang_ups_for(fakes, caller) == []  # the call goes on
    assert_one_warning(log, fakes, "LLMService")


# Cartesia streams faster than real time: the connection goes before the first audio has played. On a
# slow line the audio comes as fast as it plays: the connection goes while the bot is speaking.
TTS_CUTS = {"tts-cut-at-once": (0.5, False), "tts-cut-while-speaking": (1.0, True)}


@pytest.mark.parametrize("fault", TTS_CUTS)
def test_a_tts_connection_lost_mid_reply_gets_an_apology(agent, fakes, fault):
    fakes.caller_will_say(QUESTION)
    fakes.openai.answers = {QUESTION: LONG_ANSWER}
    log = LogSlice(agent)
    after_secs, real_time = TTS_CUTS[fault]

    def cut() -> None:
        fakes.cut_tts_mid_reply(after_secs, real_time)  # inside the first sentence

    caller, spoke_until = hear_the_fallback(agent, fakes, cut, APOLOGY)
    [cut_at] = fakes.tts_cuts()
    apology_at = fakes.asked_to_speak(APOLOGY, after=spoke_until)
    # The connection went after the reply started; the caller heard what had arrived, then the apology.
    assert spoke_until < cut_at < apology_at
    reply_heard_at = first_heard(caller, spoke_until)
    assert reply_heard_at < first_heard(caller, apology_at)
    if real_time:
        assert reply_heard_at < cut_at  # the bot was speaking
    limit = reply_timeout(fakes) + SPEAKING_ALLOWANCE_SECS
    assert_dead_air(fault, caller, spoke_until, first_heard(caller, apology_at), limit)
    assert hang_ups_for(fakes, caller) == []
    assert_one_warning(log, fakes, "TTSService")


def test_a_tts_outage_plays_the_trouble_prompt_and_ends_politely(agent, fakes):
    fakes.caller_will_say(QUESTION)
    log = LogSlice(agent)

    async def scenario():
        async with new_caller(agent) as caller:
            await hear_greeting(caller)  # the cached greeting needs no TTS
            fakes.break_tts()
            spoke_until = await ask(caller)  # answered by the trouble prompt
            await wait_until(lambda: caller.closed, timeout=20, what="the bot to end the call")
            await asyncio.sleep(1.0)  # room for a second hang-up
            return caller, spoke_until

    caller, spoke_until = run(scenario())
    # The apology is tried first, through the same TTS: its own wait comes before the prompt.
    limit = 2 * reply_timeout(fakes) + SPEAKING_ALLOWANCE_SECS
    assert_dead_air("tts-outage", caller, spoke_until, first_heard(caller, spoke_until), limit)
    with wave.open(str(RECORDINGS_DIR / "technical_trouble.wav")) as prompt:
        prompt_secs = prompt.getnframes() / prompt.getframerate()
    played_secs = sum(end - start for arrived, start, end, _ in played(caller) if arrived > spoke_until)
    assert played_secs >= prompt_secs - 0.1  # all of it, before the line closed
    assert len(hang_ups_for(fakes, caller)) == 1
    apologizing, ending = guard_warnings(log)
    assert "TTSService" in apologizing and "TTSService" in ending
    assert "playing the technical-trouble prompt" in ending
    assert "Traceback" not in log.text()
    record = report_of(agent, caller)
    assert record["ended_by"] == "error" and record["errors"], record


def test_an_stt_that_never_answers_gets_the_caller_asked_to_repeat(agent, fakes):
    fakes.caller_will_say(QUESTION)
    log = LogSlice(agent)

    caller, spoke_until = hear_the_fallback(agent, fakes, fakes.deaf_stt, NOT_HEARD)
    asked_at = fakes.asked_to_speak(NOT_HEARD, after=spoke_until)
    limit = reply_timeout(fakes) + SPEAKING_ALLOWANCE_SECS
    assert_dead_air("stt-silent", caller, spoke_until, first_heard(caller, asked_at), limit)
    assert QUESTION not in fakes.openai.user_messages()
    assert hang_ups_for(fakes, caller) == []
    assert_one_warning(log, fakes, "STTService")


def test_an_stt_connection_drop_gets_the_caller_asked_to_repeat_then_answered(agent, fakes):
    fakes.caller_will_say(QUESTION, QUESTION)  # the first is lost with the connection
    fakes.openai.answers = {QUESTION: ANSWER}
    log = LogSlice(agent)

    def drop() -> None:
        fakes.drop_stt_mid_utterance(after_secs=0.5)

    caller, spoke_until = hear_the_fallback(agent, fakes, drop, NOT_HEARD, ask_again=True)
    [dropped_at] = fakes.stt_drops()
    asked_at = fakes.asked_to_speak(NOT_HEARD, after=spoke_until)
    # A streaming STT drops while the caller speaks, one that takes whole utterances once they stop.
    assert dropped_at < asked_at and spoke_until < asked_at
    limit = reply_timeout(fakes) + SPEAKING_ALLOWANCE_SECS
    assert_dead_air("stt-connection-drop", caller, spoke_until, first_heard(caller, asked_at), limit)
    assert ANSWER in fakes.spoken()  # the call went on
    assert hang_ups_for(fakes, caller) == []
    assert_one_warning(log, fakes, "STTService")
