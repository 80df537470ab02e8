"""Checks the files Twilio and Pipecat Cloud read: python -m commands.check_config

- each TwiML Bin in twiml/ is the one phone/twiml.py writes, so it streams to this agent in its region;
- pcc-deploy.toml parses and names the agent and region that phone/twiml.py routes calls to.

One line per problem and exit code 1, or one line saying all is well. pre-commit and CI run it; it needs
only the standard library and this folder.
"""

import sys
import tomllib
from pathlib import Path
from xml.etree import ElementTree

from phone import twiml

AGENT_DIR = Path(__file__).resolve().parents[1]
REWRITE_BINS = "run `python -m commands.twiml_bins`"


def twiml_problems(folder: Path = twiml.BINS_DIR) -> list[str]:
    found = []
    for name, parameters in twiml.BIN_PARAMETERS.items():
        path = folder / name
        try:
            text = path.read_text()
            ElementTree.fromstring(text)
        except OSError:
            found.append(f"twiml/{name} is missing: {REWRITE_BINS}")
            continue
        except ElementTree.ParseError as error:
            found.append(f"twiml/{name} is not XML ({error}): {REWRITE_BINS}")
            continue
        if text != twiml.stream_twiml(parameters):
            found.append(f"twiml/{name} differs from what phone/twiml.py writes: {REWRITE_BINS}")
    return found


def deploy_config_problems(path: Path = AGENT_DIR / "pcc-deploy.toml") -> list[str]:
    try:
        config = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        return [f"pcc-deploy.toml cannot be read: {error}"]
    found = []
    for key, expected in (("agent_name", twiml.AGENT_NAME), ("region", twiml.REGION)):
        if config.get(key) != expected:
            found.append(
                f"pcc-deploy.toml has {key} = {config.get(key)!r}, but phone/twiml.py routes calls to "
                f"{expected!r}: make them match"
            )
    if not isinstance(config.get("secret_set"), str):
        found.append("pcc-deploy.toml names no secret_set")
    scaling = config.get("scaling", {})
    min_agents = scaling.get("min_agents", 0)
    max_agents = scaling.get("max_agents", min_agents)  # optional on Pipecat Cloud
    whole = all(isinstance(count, int) and not isinstance(count, bool) for count in (min_agents, max_agents))
    if not whole or not 0 <= min_agents <= max_agents:
        found.append("pcc-deploy.toml [scaling] needs whole numbers with 0 <= min_agents <= max_agents")
    return found


def problems() -> list[str]:
    return twiml_problems() + deploy_config_problems()


def main() -> int:
    found = problems()
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    if found:
        return 1
    bins = ", ".join(f"twiml/{name}" for name in twiml.BIN_PARAMETERS)
    print(f"{bins} and pcc-deploy.toml route calls to {twiml.SERVICE_HOST} in {twiml.REGION}")
    if twiml.ORGANIZATION == twiml.PLACEHOLDER_ORGANIZATION:
        print(f"note: the organization is still the placeholder {twiml.PLACEHOLDER_ORGANIZATION!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
