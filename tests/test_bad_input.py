"""Hostile or mistaken answers stop generation with one `error:` line and leave nothing behind."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

# id: (answers, a phrase the one error line must hold)
BAD_ANSWERS = {
    "name-uppercase": (["agent_name=Bad_Name"], "is not a Pipecat Cloud agent name"),
    "name-leading-dash": (["agent_name=-agent"], "is not a Pipecat Cloud agent name"),
    "name-too-long": ([f"agent_name={'a' * 55}"], "is not a Pipecat Cloud agent name"),
    "name-quote": (['agent_name=my"agent'], "is not a Pipecat Cloud agent name"),
    "name-closing-tag": (["agent_name=agent</Stream>"], "is not a Pipecat Cloud agent name"),
    "name-newline": (["agent_name=agent\nname"], "is not a Pipecat Cloud agent name"),
    "name-trailing-newline": (["agent_name=agent\n"], "is not a Pipecat Cloud agent name"),
    "name-path": (["agent_name=../agent"], "is not a Pipecat Cloud agent name"),
    "name-template": (["agent_name={{ 7 * 7 }}"], "template syntax"),
    "name-triple-quote": (['agent_name=agent"""'], "is not a Pipecat Cloud agent name"),
    "organization-newline": (["organization=org\nname"], "is not an organization slug"),
    "organization-trailing-newline": (["organization=org\n"], "is not an organization slug"),
    "organization-closing-tag": (
        ["organization=org</Stream><Dial>+15550000000</Dial>"],
        "is not an organization slug",
    ),
    "organization-quote": (["organization=org' or '1"], "is not an organization slug"),
    "region-unknown": (["region=mars"], "region 'mars' is not one of"),
    "stt-unknown": (["stt=nope"], "is not a provider"),
    "llm-unknown": (["llm=gpt"], "is not a provider"),
    "tts-unknown": (["tts=espeak"], "is not a provider"),
    "prompt-empty-template": (["system_prompt=Hello {{ }}"], "template syntax"),
    "prompt-template-tag": (["system_prompt={% if true %}x{% endif %}"], "template syntax"),
    "prompt-template-comment": (["system_prompt=Hello {# note #}"], "template syntax"),
    "prompt-blank": (["system_prompt=   "], "system_prompt is empty"),
    "prompt-control-character": (
        ["system_prompt=bell \x07 ring"],
        "system_prompt contains control characters",
    ),
    "prompt-delete-character": (["system_prompt=rub \x7f out"], "system_prompt contains control characters"),
    "prompt-carriage-return": (
        ["system_prompt=line one\rline two"],
        "system_prompt contains a carriage return (\\r); use plain newlines",
    ),
    "prompt-windows-newline": (
        ["system_prompt=line one\r\nline two"],
        "system_prompt contains a carriage return",
    ),
    "prompt-too-long": ([f"system_prompt={'word ' * 900}"], "system_prompt is longer than 4000 characters"),
    "greeting-blank": (["greeting=  "], "greeting is empty"),
    "greeting-newline": (["greeting=Hello\nthere"], "greeting must be one line"),
    "greeting-line-separator": (["greeting=Hello\u2028there"], "greeting must be one line"),
    "greeting-carriage-return": (["greeting=Hello\r"], "greeting contains a carriage return"),
    # Bytes that are not UTF-8 reach Python as lone surrogates, which no file can hold.
    "greeting-not-utf8": (["greeting=Hello \udcff"], "greeting is not valid text"),
    "voicemail-message-blank": (["voicemail_message= "], "voicemail_message is empty"),
    "voicemail-message-newline": (["voicemail_message=Call\nback"], "voicemail_message must be one line"),
    "transfer-mode-unknown": (["transfer_mode=lukewarm"], "transfer_mode 'lukewarm' is not one of"),
    "noise-filter-unknown": (["noise_filter=rnnoise"], "noise_filter 'rnnoise' is not one of: none, krisp"),
    "pipeline-unknown": (["pipeline=hybrid"], "pipeline 'hybrid' is not one of: cascade, realtime"),
    "realtime-unknown": (["pipeline=realtime", "realtime=mars"], "realtime 'mars' is not a provider"),
    "realtime-outbound": (
        ["pipeline=realtime", "outbound_calls=yes"],
        "outbound_calls=yes needs pipeline=cascade: the answering-machine check classifies",
    ),
    "realtime-warm-transfer": (
        ["pipeline=realtime", "call_transfer=yes", "transfer_mode=warm"],
        "transfer_mode=warm needs pipeline=cascade",
    ),
    "transfer-number-not-e164": (["transfer_number=555-0100"], "is not an E.164 number"),
    "transfer-number-closing-tag": (["transfer_number=+1555</Dial>"], "is not an E.164 number"),
    "transfer-number-trailing-newline": (["transfer_number=+15555550100\n"], "is not an E.164 number"),
    "transfer-number-wide-digits": (["transfer_number=+１５５５５５５０１００"], "is not an E.164 number"),
    "option-not-yes-or-no": (["call_transfer=maybe"], "call_transfer 'maybe' must be yes or no"),
    "deploy-not-yes-or-no": (["deploy=sure"], "deploy 'sure' must be yes or no"),
    "min-agents-negative": (["min_agents=-1"], "min_agents '-1' must be a whole number from 0 to 50"),
    "min-agents-word": (["min_agents=one"], "min_agents 'one' must be a whole number"),
    # str.isdigit() accepts these, and int() then fails or reads another script's digit.
    "min-agents-superscript": (["min_agents=²"], "min_agents '²' must be a whole number"),
    "min-agents-arabic-digit": (["min_agents=٣"], "min_agents '٣' must be a whole number"),
    "min-agents-huge": ([f"min_agents={'9' * 5000}"], "min_agents '99999"),
    "min-agents-leading-zero": (["min_agents=01"], "no sign or leading zero"),
    "min-agents-over-cap": (
        ["min_agents=51", "max_agents=50"],
        "min_agents '51' must be a whole number from 0 to 50",
    ),
    "max-agents-zero": (["max_agents=0"], "max_agents '0' must be a whole number from 1 to 50"),
    "max-agents-over-cap": (["max_agents=51"], "Pipecat Cloud caps a deployment at 50"),
    "max-agents-word": (["max_agents=many"], "max_agents 'many' must be a whole number"),
    "max-agents-below-min": (["min_agents=5", "max_agents=3"], "max_agents 3 is less than min_agents 5"),
}


@pytest.fixture
def cookiecutter_config(tmp_path_factory):
    """A config that keeps replay files out of the home folder; returns (config file, replay folder)."""
    home = tmp_path_factory.mktemp("cookiecutter-home")
    config = home / "config.yaml"
    config.write_text(
        json.dumps({"cookiecutters_dir": str(home / "templates"), "replay_dir": str(home / "replay")})
    )
    return config, home / "replay"


def generate(output, config, *arguments: str, temp_dir: Path | None = None) -> subprocess.CompletedProcess:
    """Runs cookiecutter; `temp_dir` becomes its temp folder, where it writes the rendered hooks."""
    env = {**os.environ, "TMPDIR": str(temp_dir)} if temp_dir else None
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            str(ROOT),
            "--config-file",
            str(config),
            "-o",
            str(output),
            *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=env,
    )


def the_one_error_line(result: subprocess.CompletedProcess, replayed: bool = False) -> str:
    assert result.returncode != 0
    # A failed hook makes cookiecutter log its own traceback, on stdout; the prompts stop before any hook.
    assert "Traceback" not in (result.stderr if replayed else result.stdout + result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize("answers, phrase", BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_bad_answer_fails_with_one_line_and_no_folder(tmp_path, cookiecutter_config, answers, phrase):
    result = generate(tmp_path, cookiecutter_config[0], "--no-input", *answers)

    assert phrase in the_one_error_line(result)
    assert list(tmp_path.iterdir()) == []


def test_code_in_an_answer_never_runs(tmp_path, cookiecutter_config):
    marker = tmp_path / "ran"
    payload = f"{{{{ cycler.__init__.__globals__.os.system('touch {marker}') }}}}"
    output = tmp_path / "out"
    output.mkdir()

    result = generate(output, cookiecutter_config[0], "--no-input", f"system_prompt={payload}")

    assert result.returncode != 0
    assert not marker.exists()
    assert list(output.iterdir()) == []


def test_good_answers_still_generate(tmp_path, cookiecutter_config):
    temp_dir = tmp_path / "temp"
    temp_dir.mkdir()
    result = generate(
        tmp_path,
        cookiecutter_config[0],
        "--no-input",
        "agent_name=ok-agent",
        "stt=assemblyai",
        "region=ap-south",
        temp_dir=temp_dir,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ok-agent" / "bot.py").is_file()
    # Both hooks ran from rendered copies there, which hold every answer; neither copy stays.
    assert list(temp_dir.iterdir()) == []


@pytest.mark.parametrize(
    "change, phrase",
    [
        ({"system_prompt": "line one\rline two"}, "system_prompt contains a carriage return (\\r)"),
        ({"agent_name": "replayed\n"}, "agent_name 'replayed\\n' is not a Pipecat Cloud agent name"),
        ({"min_agents": "²"}, "min_agents '²' must be a whole number"),
        ({"greeting": "{{ 7 * 7 }}"}, "greeting contains template syntax"),
        ({"max_agents": "0"}, "max_agents '0' must be a whole number"),
    ],
    ids=["carriage-return", "trailing-newline", "superscript-digit", "template-syntax", "max-agents-zero"],
)
def test_replayed_answers_are_checked_too(tmp_path, cookiecutter_config, change, phrase):
    """A replay file skips the prompts and AnswerGuard's checks: the pre-gen hook still refuses it."""
    config, replay_dir = cookiecutter_config
    first = tmp_path / "first"
    assert generate(first, config, "--no-input", "agent_name=replayed").returncode == 0
    [saved] = replay_dir.glob("*.json")
    replay = json.loads(saved.read_text())
    replay["cookiecutter"].update(change)
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(replay))
    output = tmp_path / "again"
    output.mkdir()
    temp_dir = tmp_path / "temp"
    temp_dir.mkdir()

    result = generate(output, config, "--replay-file", str(edited), temp_dir=temp_dir)

    assert phrase in the_one_error_line(result, replayed=True)
    assert list(output.iterdir()) == []
    assert list(temp_dir.iterdir()) == []  # nor the refusing hook's rendered copy
