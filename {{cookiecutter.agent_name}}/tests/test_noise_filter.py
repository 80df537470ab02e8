"""noise_filter=krisp without the Krisp SDK (local runs, these tests): one line says the filter is off,
and every call goes on unfiltered."""

import importlib.util
import tomllib
from pathlib import Path

from tests.calling import QUESTION, one_question_call, run
from voice.noise_filter import KRISP_SDK

FILTER_OFF = "Noise filter off: no Krisp SDK"


def test_pipecat_cloud_is_asked_for_the_telephony_filter():
    deploy_config = tomllib.loads((Path(__file__).parents[1] / "pcc-deploy.toml").read_text())
    assert deploy_config["krisp_viva"] == {"audio_filter": "tel"}


def test_calls_without_the_krisp_sdk_are_heard_unfiltered_after_one_line(agent, fakes):
    assert importlib.util.find_spec(KRISP_SDK) is None  # as on every machine but Pipecat Cloud's
    fakes.caller_will_say(QUESTION, QUESTION)
    fakes.openai.answers = {QUESTION: "We open at nine tomorrow."}

    run(one_question_call(agent))
    run(one_question_call(agent))
    assert QUESTION in fakes.user_messages()
    assert fakes.spoken().count("We open at nine tomorrow.") >= 2
    # Once per process, not per call; and none of pipecat's errors about the missing module.
    assert agent.log().count(FILTER_OFF) == 1
    assert "KrispVivaFilter" not in agent.log()
