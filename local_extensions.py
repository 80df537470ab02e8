"""Jinja extension that checks the answers while cookiecutter prompts, before anything is written.

Cookiecutter renders every answer as a Jinja template while it prompts, before any hook runs: an
answer such as `{{ }}` ends in a raw traceback, and `{{ ... }}` with code in it would run that code
on the generating machine. The only strings cookiecutter may render are the template's own: the
values in cookiecutter.json, the hook scripts and the template's path names. Any other string with
template syntax is an answer, and it is refused.

The last variable in cookiecutter.json pipes all answers through `validate_answers`, which applies
hooks/pre_gen_project.py's checks. A problem ends generation with one `error:` line (SystemExit
passes through cookiecutter untouched) and no folder.
"""

import importlib.util
import json
import re
from pathlib import Path

from jinja2.ext import Extension

TEMPLATE_ROOT = Path(__file__).resolve().parent
TEMPLATE_SYNTAX = re.compile(r"\{\{|\{%|\{#|\}\}|%\}|#\}")


def _strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)


def _template_owned_sources() -> frozenset[str]:
    owned = set(_strings_in(json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text())))
    owned.update(hook.read_text() for hook in (TEMPLATE_ROOT / "hooks").glob("*.py"))
    for template_dir in TEMPLATE_ROOT.glob("{{*}}"):
        owned.add(template_dir.name)
        for path in template_dir.rglob("*"):
            owned.update({path.name, str(path.relative_to(template_dir))})
    return frozenset(owned)


def _answer_problems():
    spec = importlib.util.spec_from_file_location(
        "pre_gen_project", TEMPLATE_ROOT / "hooks" / "pre_gen_project.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.problems


class AnswerGuard(Extension):
    """Refuses answers with template syntax, and answers that the pre-gen hook would refuse."""

    def __init__(self, environment):
        super().__init__(environment)
        self._owned = _template_owned_sources()
        self._problems = _answer_problems()
        environment.filters["validate_answers"] = self.validate_answers

    def preprocess(self, source, name, filename=None):
        # Files of the template are loaded by name; only strings arrive without one.
        if name is None and source not in self._owned and TEMPLATE_SYNTAX.search(source):
            snippet = source if len(source) <= 60 else source[:57] + "..."
            raise SystemExit(
                f"error: an answer contains template syntax ({{{{, }}}}, {{% or {{#}}, "
                f"which is not allowed: {snippet!r}"
            )
        return source

    def validate_answers(self, answers) -> str:
        found = self._problems(dict(answers))
        if found:
            raise SystemExit(f"error: {found[0]}")
        return "ok"
