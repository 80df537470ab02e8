"""The greeting is synthesized once per process, then played at once; live TTS covers a failed warm-up.

Each test starts a server of its own, so "once per process" is counted from the process's start.
These tests check behaviour, not timing.
"""

import pytest

from phrases import OPENING
from startup.services_ahead import BUILT_AHEAD, BUILT_BY_THE_CALL
from tests.calling import QUESTION, new_caller, question, run, wait_until
from voice.greeting import spoken_text
from voice.providers import SERVICES_BUILT_AHEAD

OPENING_TEXT = spoken_text(OPENING)  # the greeting, after the recording notice when there is one


def greeting_call(server, say: bytes | None = None):
    """One call: returns the caller, once the bot's greeting (and its answer to `say`) are done."""

    async def scenario():
        async with new_caller(server) as caller:
            await caller.start()
            await caller.wait_for("media")
            await caller.wait_for_quiet()
            if say:
                spoke_until = await caller.say(say)
                await caller.wait_for("media", after=spoke_until, timeout=20)
                await caller.wait_for_quiet()
            await caller.hang_up()
            return caller

    return run(scenario())


@pytest.mark.parametrize("mode", ["cloud", "local"])
def test_the_greeting_is_synthesized_once_and_every_call_hears_it(fresh_server, fakes, mode):
    fakes.caller_will_say(QUESTION)
    server = fresh_server(mode)  # ready once warmed up: readyz, on Pipecat Cloud and locally
    assert fakes.spoken() == [OPENING_TEXT]
    assert "Greeting cached" in server.log()
    assert len(fakes.openai.chat_requests) == 1  # the warm-up's one short LLM request

    first = greeting_call(server, say=question())
    run(wait_until(lambda: f"Call {first.call_sid} ended" in server.log(), what="the first call to end"))
    second = greeting_call(server)
    # Both calls ran on services built ahead (at warm-up, then by the first call for the next), or, where
    # a client binds to the event loop, each on services it built itself.
    assert server.log().count(BUILT_AHEAD if SERVICES_BUILT_AHEAD else BUILT_BY_THE_CALL) == 2

    assert fakes.spoken().count(OPENING_TEXT) == 1  # no call synthesized it again
    greeting_bytes = len(second.bot_audio())
    assert greeting_bytes > 0
    assert first.bot_audio()[:greeting_bytes] == second.bot_audio()
    # The LLM knows what the caller heard: the greeting is its own first message.
    [request] = [
        r for r in fakes.openai.chat_requests if {"role": "user", "content": QUESTION} in r["messages"]
    ]
    assert {"role": "assistant", "content": OPENING_TEXT} in request["messages"]
    assert QUESTION in fakes.openai.user_messages()


def test_a_call_that_arrives_during_the_warm_up_waits_for_it_and_hears_the_cached_greeting(
    fresh_server, fakes
):
    """The development runner listens before it warms up: a call that comes at once waits for the warm-up."""
    fakes.caller_will_say(QUESTION)
    fakes.slow_tts(2.0)  # the warm-up's greeting takes this long to synthesize
    server = fresh_server("local", wait_until_ready=False)

    async def scenario():
        async with new_caller(server) as caller:
            await caller.start()
            await wait_until(lambda: "This call waits for the warm-up" in server.log(), what="it to wait")
            fakes.slow_tts(0.0)  # the reply's speech comes at once; the greeting's request is under way
            await caller.wait_for("media")
            await caller.wait_for_quiet()
            spoke_until = await caller.say(question())
            await caller.wait_for("media", after=spoke_until, timeout=20)
            await caller.wait_for_quiet()
            await caller.hang_up()
            return caller

    call = run(scenario())
    log = server.log()
    assert "This call waits for the warm-up, still running" in log
    assert log.index("This call waits for the warm-up") < log.index("Greeting cached")
    assert fakes.spoken().count(OPENING_TEXT) == 1  # at the warm-up; the call played that audio
    assert len(call.bot_audio()) > 0
    assert QUESTION in fakes.user_messages()  # and the conversation went on as usual


def test_a_failed_warm_up_falls_back_to_live_tts_and_caches_that(fresh_server, fakes):
    fakes.break_tts()
    server = fresh_server("cloud")  # still becomes ready: a call must never wait on the warm-up
    assert "Greeting not synthesized at warm-up" in server.log()
    fakes.reset()  # the text-to-speech provider is back

    live = greeting_call(server)
    assert fakes.spoken() == [OPENING_TEXT]  # spoken live in the call
    run(wait_until(lambda: "Greeting cached" in server.log(), what="the live greeting to be kept"))
    cached = greeting_call(server)

    assert fakes.spoken() == [OPENING_TEXT]  # not synthesized again
    # The same greeting both times (live audio may have passed a different resampler on its way).
    assert len(cached.bot_audio()) > 0
    assert abs(len(live.bot_audio()) - len(cached.bot_audio())) <= 0.15 * len(cached.bot_audio())


def test_talking_over_the_cached_greeting_clears_it(agent, fakes):
    fakes.caller_will_say("Sorry, one moment.")

    async def scenario():
        async with new_caller(agent) as caller:
            await caller.start()
            greeting_sent = await caller.wait_for("media")
            # Twilio is still playing the greeting it buffered; the caller talks over it.
            await caller.say(question())
            await caller.wait_for("clear", after=greeting_sent[0].at)
            await caller.hang_up()
            return caller

    caller = run(scenario())
    assert caller.events("clear")
