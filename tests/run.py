"""Runs the template's whole test suite on a machine that has only Python 3.

Creates .venv-test, installs uv into it, installs the `test` dependency group from pyproject.toml
(compiled to bytecode), then runs pytest with any arguments given here. `.ci/run` calls this same command.
"""

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV_DIR = ROOT / ".venv-test"
BIN = ENV_DIR / ("Scripts" if os.name == "nt" else "bin")


def step(message: str, command: list[str]) -> None:
    print(f"==> {message}", flush=True)
    subprocess.run(command, cwd=ROOT, check=True)


def main() -> int:
    if not (BIN / "python").exists():
        print(f"==> creating {ENV_DIR.name}", flush=True)
        venv.EnvBuilder(with_pip=True).create(ENV_DIR)
    if not (BIN / "uv").exists():
        step("installing uv", [str(BIN / "python"), "-m", "pip", "install", "--quiet", "uv"])
    # Compiled once here: where PYTHONDONTWRITEBYTECODE is set (some CI images), every agent server,
    # CLI and hook the tests start would otherwise compile pipecat from source again, 2 to 3 s each.
    step(
        "installing the test dependencies",
        [
            str(BIN / "uv"),
            "pip",
            "install",
            "--quiet",
            "--compile-bytecode",
            "--python",
            str(BIN / "python"),
            "--group",
            "test",
        ],
    )
    # The hooks and the tests find ruff, hadolint and cookiecutter on PATH, as a user would.
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(ENV_DIR),
    }
    print("==> running pytest", flush=True)
    return subprocess.run([str(BIN / "python"), "-m", "pytest", *sys.argv[1:]], cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
