"""The image holds what a call runs and nothing else: no command, no test, no .env.

Nor server.py: on Pipecat Cloud the base image serves /ws and calls bot() itself.
"""

import ast
from pathlib import Path

from tests.harness import AGENT_DIR


def copied_files() -> set[str]:
    """Every file the Dockerfile's COPY lines put in /app, relative to this folder."""
    files = set()
    for line in (AGENT_DIR / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            *sources, _target = line.split()[1:]
            for source in sources:
                path = AGENT_DIR / source
                found = [path] if path.is_file() else [inner for inner in path.rglob("*") if inner.is_file()]
                files |= {str(f.relative_to(AGENT_DIR)) for f in found if "__pycache__" not in f.parts}
    return files


def module_file(name: str) -> str | None:
    """This folder's file for a module name, or None for a module from outside (pipecat, the stdlib)."""
    for candidate in (Path(*name.split(".")).with_suffix(".py"), Path(*name.split("."), "__init__.py")):
        if (AGENT_DIR / candidate).is_file():
            return str(candidate)
    return None


def imported_files(relative: str) -> set[str]:
    """The files of this folder that a module imports, with the packages they are in."""
    names = set()
    for node in ast.walk(ast.parse((AGENT_DIR / relative).read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    packages = {
        ".".join(name.split(".")[:depth]) for name in names for depth in range(1, name.count(".") + 1)
    }
    return {found for name in names | packages if (found := module_file(name))}


def test_the_image_holds_no_command_and_no_test():
    files = copied_files()
    assert "bot.py" in files
    elsewhere = ("deploy.py", "server.py")  # deploy.py runs on your machine, server.py on your own servers
    assert not [f for f in files if f.startswith(("commands/", "tests/", ".env")) or f in elsewhere], files
    # Only bot.py runs as a program: nothing else in the image is a command.
    programs = [
        f for f in files if f.endswith(".py") and '__name__ == "__main__"' in (AGENT_DIR / f).read_text()
    ]
    assert programs == ["bot.py"]


def test_the_image_holds_everything_a_call_imports():
    files = copied_files()
    needed, to_read = set(), ["bot.py"]
    while to_read:
        module = to_read.pop()
        if module not in needed:
            needed.add(module)
            to_read.extend(imported_files(module))
    assert needed - files == set()
    assert {"settings.py", "voice/providers.py", "phone/stream.py"} <= needed  # the walk follows imports
    # What the modules read at run time: the system prompt and the recordings.
    assert {"phrases/system_prompt.txt", "phrases/technical_trouble.wav"} <= files
