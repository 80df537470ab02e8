{%- set agent = cookiecutter | agent -%}
"""Every environment variable the agent reads, with its default; .env.example lists the same ones.

A setting is read when it is used, not at import, so a test or a command can set the environment
first. A required one that is unset or empty stops with one line that names it.
"""

import os
from dataclasses import dataclass


class MissingSetting(RuntimeError):
    """A required environment variable is unset or empty."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str = ""
    required: bool = False

    def value(self) -> str:
        value = os.getenv(self.name, "").strip() or self.default
        if self.required and not value:
            raise MissingSetting(
                f"{self.name} is not set: add it to .env (see .env.example) or to the secret set"
            )
        return value

    def as_argument(self, argument: str) -> dict[str, str]:
        """`{argument: value}` when set, else nothing, so a service keeps its own default endpoint."""
        value = self.value()
        return {argument: value} if value else {}

{% for setting in agent.settings %}
{%- if setting.required %}
{{ setting.name }} = Setting("{{ setting.name }}", required=True)
{%- elif setting.default %}
{{ setting.name }} = Setting("{{ setting.name }}", {{ setting.default | literal }})
{%- else %}
{{ setting.name }} = Setting("{{ setting.name }}")
{%- endif %}
{%- endfor %}

ALL_SETTINGS = [value for value in list(globals().values()) if isinstance(value, Setting)]
# The variables no call can start without; .env.example marks the same ones "required".
REQUIRED_SETTINGS = [setting.name for setting in ALL_SETTINGS if setting.required]


def twilio_credentials() -> tuple[str, str]:
    """The account SID and auth token that Twilio's REST API, and so every hang-up, needs."""
    return TWILIO_ACCOUNT_SID.value(), TWILIO_AUTH_TOKEN.value()
