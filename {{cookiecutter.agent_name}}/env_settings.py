{%- set catalog = cookiecutter._providers -%}
{%- set required = namespace(names=["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"]) -%}
{%- for kind in ["stt", "llm", "tts"] %}
{%- set provider = catalog[kind][cookiecutter[kind]] %}
{%- set required.names = required.names + [provider.api_key] %}
{%- for field, setting in provider.settings.items() if "default" not in setting %}
{%- set required.names = required.names + [setting.env] %}
{%- endfor %}
{%- endfor -%}
"""Reads the agent's settings from the environment, failing with one clear line when one is missing."""

import os

# The variables no call can start without; .env.example marks the same ones "required".
REQUIRED_SETTINGS = (
{%- for name in required.names | unique %}
    "{{ name }}",
{%- endfor %}
)


class MissingSetting(RuntimeError):
    """A required environment variable is unset or empty."""


def required_env(name: str) -> str:
    value = os.getenv(name, "").strip()
    if not value:
        raise MissingSetting(f"{name} is not set: add it to .env (see .env.example) or to the secret set")
    return value


def endpoint_override(argument: str, env_name: str) -> dict[str, str]:
    """Passes a custom endpoint only when one is set, so each service keeps its own default otherwise."""
    url = os.getenv(env_name, "").strip()
    return {argument: url} if url else {}


def twilio_credentials() -> tuple[str, str]:
    """The account SID and auth token the serializer needs to hang up through Twilio's REST API."""
    account_sid = os.getenv("TWILIO_ACCOUNT_SID", "").strip()
    auth_token = os.getenv("TWILIO_AUTH_TOKEN", "").strip()
    missing = [
        name
        for name, value in (("TWILIO_ACCOUNT_SID", account_sid), ("TWILIO_AUTH_TOKEN", auth_token))
        if not value
    ]
    if missing:
        raise MissingSetting(
            f"{' and '.join(missing)} not set: the bot needs them to end calls through Twilio's REST API "
            "(add them to .env, see .env.example)"
        )
    return account_sid, auth_token
