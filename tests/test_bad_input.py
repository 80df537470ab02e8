"""Hostile or mistaken answers stop generation with one `error:` line and leave nothing behind."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT

BAD_ANSWERS = {
    "name-uppercase": ("agent_name", "Bad_Name"),
    "name-leading-dash": ("agent_name", "-agent"),
    "name-too-long": ("agent_name", "a" * 55),
    "name-quote": ("agent_name", 'my"agent'),
    "name-closing-tag": ("agent_name", "agent</Stream>"),
    "name-newline": ("agent_name", "agent\nname"),
    "name-template": ("agent_name", "{{ 7 * 7 }}"),
    "name-triple-quote": ("agent_name", 'agent"""'),
    "organization-newline": ("organization", "org\nname"),
    "organization-closing-tag": ("organization", "org</Stream><Dial>+15550000000</Dial>"),
    "organization-quote": ("organization", "org' or '1"),
    "region-unknown": ("region", "mars"),
    "stt-unknown": ("stt", "nope"),
    "llm-unknown": ("llm", "gpt"),
    "tts-unknown": ("tts", "espeak"),
    "prompt-empty-template": ("system_prompt", "Hello {{ }}"),
    "prompt-template-tag": ("system_prompt", "{% if true %}x{% endif %}"),
    "prompt-blank": ("system_prompt", "   "),
    "prompt-control-character": ("system_prompt", "bell \x07 ring"),
    "greeting-blank": ("greeting", "  "),
    "greeting-newline": ("greeting", "Hello\nthere"),
    "transfer-number-not-e164": ("transfer_number", "555-0100"),
    "transfer-number-closing-tag": ("transfer_number", "+1555</Dial>"),
    "option-not-yes-or-no": ("call_transfer", "maybe"),
    "deploy-not-yes-or-no": ("deploy", "sure"),
    "min-agents-negative": ("min_agents", "-1"),
    "min-agents-word": ("min_agents", "one"),
}


def generate(tmp_path, *answers: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cookiecutter", str(ROOT), "--no-input", "-o", str(tmp_path), *answers],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("variable, value", BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_bad_answer_fails_with_one_line_and_no_folder(tmp_path, variable, value):
    result = generate(tmp_path, f"{variable}={value}")

    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []


def test_code_in_an_answer_never_runs(tmp_path):
    marker = tmp_path / "ran"
    payload = f"{{{{ cycler.__init__.__globals__.os.system('touch {marker}') }}}}"
    output = tmp_path / "out"
    output.mkdir()

    result = generate(output, f"system_prompt={payload}")

    assert result.returncode != 0
    assert not marker.exists()
    assert list(output.iterdir()) == []


def test_good_answers_still_generate(tmp_path):
    result = generate(tmp_path, "agent_name=ok-agent", "stt=assemblyai", "region=ap-south")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ok-agent" / "bot.py").is_file()
