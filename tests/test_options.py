"""Every combination of the call-control options bakes, lints and builds. An option is its own files:
turned off, they are absent, nothing imports them, and every module left still imports.
"""

import ast
import itertools
import re

import pytest

from tests.conftest import BUILD_CHECKS

# The files each option adds, and only that option.
OPTION_FILES = {
    "call_transfer": ["call_control/transfer.py", "tests/test_transfer.py", "tests/test_cold_transfer.py"],
    "call_recording": ["call_control/recording.py", "tests/test_recording.py"],
    "dtmf_input": ["call_control/dtmf.py", "tests/test_dtmf.py"],
    "outbound_calls": [
        "call_control/outbound.py",
        "commands/place_call.py",
        "tests/test_outbound.py",
        "twiml/outbound.xml",
        "call_control/voicemail.py",
        "phrases/voicemail_message.txt",
        "tests/test_voicemail.py",
        "tests/audio/hello.wav",
        "tests/audio/voicemail_greeting.wav",
    ],
}
NOISE_FILTER_FILES = ["voice/noise_filter.py", "tests/test_noise_filter.py"]
ANSWER_SETS = [
    dict(zip(OPTION_FILES, values, strict=True)) for values in itertools.product(["yes", "no"], repeat=4)
]
COMBINATIONS = [
    pytest.param(answers, id="-".join(f"{option}={value}" for option, value in answers.items()))
    for answers in ANSWER_SETS
]


def imported_modules(project) -> dict[str, set[str]]:
    """Each Python file of the agent, with every module name it imports (`a.b` also counts as `a`)."""
    found = {}
    for path in project.path.rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        found[str(path.relative_to(project.path))] = names
    return found


def module_name(relative: str) -> str:
    return relative.removesuffix(".py").replace("/", ".")


@pytest.mark.parametrize("options", COMBINATIONS)
def test_option_combination(bake, options):
    project = bake(**options)

    project.assert_lint_clean()
    imports = imported_modules(project)
    for option, files in OPTION_FILES.items():
        for relative in files:
            assert project.has_file(relative) == (options[option] == "yes"), relative
        if options[option] == "no":
            absent = {module_name(f) for f in files if f.endswith(".py")}
            importers = sorted(path for path, names in imports.items() if names & absent)
            assert importers == [], f"{option}=no, yet {importers} import {absent}"
    assert not any(project.has_file(relative) for relative in NOISE_FILTER_FILES)  # noise_filter=none
    # Every module left imports, and the call's pipeline builds with the features that are on.
    project.run_agent_tests(*BUILD_CHECKS)


def test_warm_transfer_is_its_own_module(bake):
    """transfer_mode=warm adds warm_transfer.py and its tests, in place of the cold <Dial>'s tests."""
    project = bake(call_transfer="yes", transfer_mode="warm")

    project.assert_lint_clean()
    for relative in ("call_control/warm_transfer.py", "tests/test_warm_transfer.py"):
        assert project.has_file(relative), relative
    assert not project.has_file("tests/test_cold_transfer.py")
    assert "WarmTransfer(call)" in project.text("bot.py")
    assert "from call_control.transfer import Transfer\n" not in project.text("bot.py")
    project.run_agent_tests(*BUILD_CHECKS)


def test_cold_transfer_leaves_no_trace_of_the_warm_one(bake):
    project = bake(call_transfer="yes")
    assert not project.has_file("call_control/warm_transfer.py")
    assert not project.has_file("tests/test_warm_transfer.py")
    assert "HANDOVER" not in project.text("phrases/__init__.py")


def test_noise_filter_is_its_own_module_and_pipecat_cloud_loads_its_table(bake, monkeypatch):
    project = bake(noise_filter="krisp")

    project.assert_lint_clean()
    assert all(project.has_file(relative) for relative in NOISE_FILTER_FILES)
    import pipecatcloud.cli.config as cli_config
    from pipecatcloud._utils.deploy_utils import load_deploy_config_file

    monkeypatch.setattr(cli_config, "deploy_config_path", str(project.path / "pcc-deploy.toml"))
    assert load_deploy_config_file().krisp_viva.audio_filter == "tel"
    # Calls without the Krisp SDK, as on this machine, and the pipeline with the filter's hook.
    summary = project.run_agent_tests("tests/test_noise_filter.py", *BUILD_CHECKS)
    assert re.search(r"\b\d+ passed", summary) and "skipped" not in summary, summary
