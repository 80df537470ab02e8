"""Every module of the agent imports: no module refers to a file that generation left out."""

import importlib
from pathlib import Path

import pytest

from tests.harness import AGENT_DIR

MODULES = sorted(
    ".".join(path.relative_to(AGENT_DIR).with_suffix("").parts).removesuffix(".__init__")
    for path in AGENT_DIR.rglob("*.py")
    if not {".venv", "__pycache__"} & set(path.parts)
)


@pytest.mark.parametrize("module", MODULES)
def test_module_imports(module):
    importlib.import_module(module)


def test_the_list_holds_the_agent():
    assert {"bot", "settings", "deploy", "voice.providers", "tests.test_modules"} <= set(MODULES)
    assert Path(importlib.import_module("bot").__file__).parent == AGENT_DIR
