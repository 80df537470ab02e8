{%- set agent = cookiecutter | agent -%}
"""Every environment variable the agent reads, with its default; .env.example lists the same ones.

A setting is read when it is used, not at import, so a test or a command can set the environment
first. A required one that is unset or empty, or a number that is not one, stops with one line that
names it; the warm-up checks the numbers before the first call.
"""

{% if agent.json_settings -%}
import json
{% endif -%}
import os
from dataclasses import dataclass


class MissingSetting(RuntimeError):
    """A required environment variable is unset or empty, or holds no valid value."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str = ""
    required: bool = False
    choices: tuple[str, ...] = ()  # a switch takes only these values

    def value(self) -> str:
        value = os.getenv(self.name, "").strip() or self.default
        if self.required and not value:
            raise MissingSetting(
                f"{self.name} is not set: add it to .env (see .env.example) or to the secret set"
            )
        if self.choices and value not in self.choices:
            raise MissingSetting(f"{self.name} is {value!r}: use {' or '.join(self.choices)} (fix .env)")
        return value

    def seconds(self) -> float:
        value = self.value()
        try:
            return float(value)
        except ValueError:
            raise MissingSetting(f"{self.name} is {value!r}, not a number of seconds: fix .env") from None

{%- if agent.json_settings %}

    def json_text(self) -> str:
        """The value, which must be a JSON object: a key file's contents, pasted on one line."""
        value = self.value()
        try:
            is_object = isinstance(json.loads(value), dict)
        except ValueError as error:  # its message gives a position, never the secret's text
            raise MissingSetting(f"{self.name} is not JSON ({error}): paste the key file in whole") from None
        if not is_object:
            raise MissingSetting(f"{self.name} is not a JSON object: paste the key file in whole")
        return value
{%- endif %}

    def as_argument(self, argument: str) -> dict[str, str]:
        """`{argument: value}` when set, else nothing, so a service keeps its own default endpoint."""
        value = self.value()
        return {argument: value} if value else {}

{% for setting in agent.settings %}
{%- if setting.required %}
{{ setting.name }} = Setting("{{ setting.name }}", required=True)
{%- elif setting.choices %}
{{ setting.name }} = Setting("{{ setting.name }}", {{ setting.default | literal }}, choices={{ setting.choices_source }})
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
    credentials = (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)
    missing = [setting.name for setting in credentials if not os.getenv(setting.name, "").strip()]
    if missing:
        raise MissingSetting(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: the bot ends calls "
            "through Twilio's REST API with them (add them to .env, see .env.example)"
        )
    return TWILIO_ACCOUNT_SID.value(), TWILIO_AUTH_TOKEN.value()


def check_values() -> None:
    """Reads every *_SECS setting and every switch once, so a bad value shows at start-up, not in a call."""
    for setting in ALL_SETTINGS:
        if setting.name.endswith("_SECS"):
            setting.seconds()
        elif setting.choices:
            setting.value()
