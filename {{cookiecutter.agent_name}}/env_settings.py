"""Reads the agent's settings from the environment, failing with one clear line when one is missing."""

import os


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
