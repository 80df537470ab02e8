"""Every combination of the call-control options bakes, lints and builds; an option that is off leaves
no trace in the agent's code, dependencies, configuration or README.
"""

import itertools
import re

import pytest

OPTIONS = ("call_transfer", "call_recording", "dtmf_input", "outbound_calls")
# What each option's code and documentation say; none of it may remain when the option is off.
TRACES = {
    "call_transfer": re.compile(r"transfer", re.IGNORECASE),
    "call_recording": re.compile(r"record", re.IGNORECASE),
    "dtmf_input": re.compile(r"dtmf|keypad", re.IGNORECASE),
    "outbound_calls": re.compile(r"outbound|callee", re.IGNORECASE),
}
ANSWER_SETS = [
    dict(zip(OPTIONS, values, strict=True)) for values in itertools.product(["yes", "no"], repeat=4)
]
COMBINATIONS = [
    pytest.param(answers, id="-".join(f"{option}={value}" for option, value in answers.items()))
    for answers in ANSWER_SETS
]


def traces(project, option: str) -> list[str]:
    """Where the agent (its tests, which fake all of Twilio's protocol, aside) mentions `option`."""
    return [
        str(path.relative_to(project.path))
        for path in project.files(skip=("tests",))
        if TRACES[option].search(path.read_text(errors="ignore"))
    ]


@pytest.mark.parametrize("options", COMBINATIONS)
def test_option_combination(bake, options):
    project = bake(**options)

    project.assert_lint_clean()
    assert project.built_services()
    for option, value in options.items():
        found = traces(project, option)
        if value == "no":
            assert found == [], f"{option}=no left traces in {found}"
        else:
            assert found, f"{option}=yes, yet nothing mentions it: the trace pattern is wrong"
    assert project.has_file("outbound.py") == (options["outbound_calls"] == "yes")
    assert project.has_file("twiml/outbound.xml") == (options["outbound_calls"] == "yes")
    assert project.has_file("audio/recording_notice.wav") == (options["call_recording"] == "yes")
    for option, test_file in [
        ("call_transfer", "tests/test_transfer.py"),
        ("call_recording", "tests/test_recording.py"),
        ("dtmf_input", "tests/test_dtmf.py"),
        ("outbound_calls", "tests/test_outbound.py"),
    ]:
        assert project.has_file(test_file) == (options[option] == "yes"), test_file
