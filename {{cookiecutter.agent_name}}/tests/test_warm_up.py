"""Services built ahead on a worker thread, and the warm-up's garbage-collector freeze.

These tests check behaviour, not timing: bench/ in the template repository measures the speed.
"""

import asyncio
import gc
import threading

import pytest
from loguru import logger

import greeting
import warm_up
from env_settings import MissingSetting
from tests.phone import QUESTION, one_question_call, run, wait_until
from tests.serve_agent import FACTORY_FAKES
from warm_up import take_services


@pytest.fixture(autouse=True)
def nothing_built_ahead():
    warm_up._Ahead.building = None
    yield
    warm_up._Ahead.building = None


def recording_factory(name: str, threads: list):
    def create(*_args):
        threads.append(threading.current_thread())
        return name

    return create


def test_each_call_takes_the_services_built_ahead_and_starts_the_next_build():
    threads = []
    factories = [recording_factory(name, threads) for name in ("stt", "llm", "tts")]

    async def two_calls():
        first = await take_services(*factories, "system prompt")
        second = await take_services(*factories, "system prompt")
        return threading.current_thread(), first, second

    loop_thread, first, second = run(two_calls())
    warm_up._Ahead.building.result(timeout=10)  # the build the second call started for the next one
    assert first == second == ("stt", "llm", "tts")
    # Three builds: each call's, then the one the second call started for the next call.
    assert len(threads) == 9
    assert loop_thread not in threads  # never on the event loop, where it would stall every call's audio


def test_a_missing_key_stops_the_call_with_the_line_that_names_it():
    def missing_key(*_args):
        raise MissingSetting("SOME_API_KEY is not set: add it to .env (see .env.example)")

    warm_up.build_ahead(missing_key, missing_key, missing_key, "system prompt")  # fails ahead, too
    with pytest.raises(MissingSetting, match="SOME_API_KEY is not set"):
        run(take_services(missing_key, missing_key, missing_key, "system prompt"))
    with pytest.raises(MissingSetting, match="SOME_API_KEY is not set"):
        run(take_services(missing_key, missing_key, missing_key, "system prompt"))


def test_calls_that_arrive_together_are_all_answered(agent, fakes):
    fakes.caller_will_say(QUESTION, QUESTION)
    log_before = len(agent.log())

    async def together():
        return await asyncio.gather(one_question_call(agent), one_question_call(agent))

    callers = run(together())
    for caller in callers:
        run(wait_until(lambda c=caller: f"Call {c.call_sid} ended" in agent.log(), what="the call to end"))
    log = agent.log()[log_before:]
    # The first took the services built ahead; the second, the build the first had just started.
    assert log.count("Using the services built ahead for this call") >= 1
    built_ahead = log.count("Using the services built ahead") + log.count("already being built")
    assert built_ahead == 2
    # Both calls were answered.
    asked = [r for r in fakes.openai.chat_requests if {"role": "user", "content": QUESTION} in r["messages"]]
    assert len(asked) == 2


def test_the_warm_up_freezes_what_lives_as_long_as_the_process(fakes, monkeypatch):
    monkeypatch.setenv("FAKE_OPENAI_URL", fakes.env["FAKE_OPENAI_URL"])
    gc.unfreeze()
    try:
        run(warm_up.warm_up(FACTORY_FAKES["stt"], FACTORY_FAKES["llm"], FACTORY_FAKES["tts"], "Hi"))
        assert greeting.cached_audio()  # the warm-up went all the way through
        assert gc.get_freeze_count() > 0  # later full collections skip what it left
    finally:
        gc.unfreeze()
        greeting._Cache.audio = None


def test_a_missing_tts_key_leaves_the_greeting_to_the_calls(fakes, monkeypatch):
    monkeypatch.setenv("FAKE_OPENAI_URL", fakes.env["FAKE_OPENAI_URL"])

    def missing_tts_key():
        raise MissingSetting("SOME_TTS_API_KEY is not set: add it to .env (see .env.example)")

    warnings = []
    handler = logger.add(warnings.append, level="WARNING")
    try:
        run(warm_up.warm_up(FACTORY_FAKES["stt"], FACTORY_FAKES["llm"], missing_tts_key, "Hi"))
    finally:
        logger.remove(handler)
        gc.unfreeze()
    assert greeting.cached_audio() is None  # calls speak it live, and then report the missing key
    assert any("Greeting not synthesized at warm-up (MissingSetting" in message for message in warnings)
