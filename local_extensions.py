"""Jinja extension that stops template syntax in prompt answers before cookiecutter renders it.

Cookiecutter renders every answer as a Jinja template while it prompts, before any hook runs: an
answer such as ``{{ }}`` ends in a raw traceback, and ``{{ ... }}`` with code in it would run that
code on the generating machine. The only sources cookiecutter may render from a string are the
template's own: the defaults in cookiecutter.json, the hook scripts and the template's path
names. Any other string with template syntax is an answer, and it is refused in one line, before
anything is written.
"""

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
        owned.update(str(p.relative_to(template_dir)) for p in template_dir.rglob("*"))
        owned.update(p.name for p in template_dir.rglob("*"))
    return frozenset(owned)


class TemplateSyntaxGuard(Extension):
    """Refuses an answer that contains Jinja syntax, so that it can be neither run nor mangled."""

    def __init__(self, environment):
        super().__init__(environment)
        self._owned = _template_owned_sources()

    def preprocess(self, source, name, filename=None):
        # Files of the template are loaded by name; only strings arrive without one.
        if name is None and source not in self._owned and TEMPLATE_SYNTAX.search(source):
            snippet = source if len(source) <= 60 else source[:57] + "..."
            raise SystemExit(
                f"error: an answer contains template syntax ({{{{, }}}}, {{% or {{#}}, "
                f"which is not allowed: {snippet!r}"
            )
        return source
