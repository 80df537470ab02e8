"""The template repository's own code meets the bar it sets for the agents it generates."""

import subprocess

from tests.conftest import ROOT, tool


def test_template_repo_passes_ruff():
    for ruff_command in (("check", "--no-cache", "."), ("format", "--no-cache", "--check", ".")):
        result = subprocess.run([tool("ruff"), *ruff_command], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout
