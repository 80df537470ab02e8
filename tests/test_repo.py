"""The template repository's own code meets the bar it sets for the agents it generates."""

import os
import subprocess

from tests.conftest import ROOT, template_repository, tool


def test_template_repo_passes_ruff():
    for ruff_command in (("check", "--no-cache", "."), ("format", "--no-cache", "--check", ".")):
        result = subprocess.run([tool("ruff"), *ruff_command], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout


def test_pre_commit_passes_on_the_template_and_catches_a_bad_file(tmp_path, pre_commit_home):
    """`pre-commit run --all-files` with the repository's config: local hooks installed from PyPI."""
    template = template_repository(tmp_path)
    command = [tool("pre-commit"), "run", "--all-files"]
    env = {**os.environ, "PRE_COMMIT_HOME": pre_commit_home}
    passed = subprocess.run(command, cwd=template, capture_output=True, text=True, timeout=600, env=env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    (template / "bench" / "notes.md").write_text("trailing space \n")
    subprocess.run(["git", "add", "-A"], cwd=template, check=True)
    failed = subprocess.run(command, cwd=template, capture_output=True, text=True, timeout=600, env=env)
    assert failed.returncode != 0 and "trim trailing whitespace" in failed.stdout
