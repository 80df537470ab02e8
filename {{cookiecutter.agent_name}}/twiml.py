"""Every TwiML document the agent uses, built in one place.

`python twiml.py` writes the TwiML Bins in twiml/{% if cookiecutter.outbound_calls == "yes" or cookiecutter.call_transfer == "yes" %} from the same functions the agent uses inline{% endif %}.
Change ORGANIZATION or STREAM_URL here, then run it again.
"""

from pathlib import Path
from xml.etree import ElementTree

# Your Pipecat Cloud organization (`pipecat cloud organizations list`); deploy.py deploys to it too.
ORGANIZATION = "{{ cookiecutter.organization }}"


def stream_url(region: str) -> str:
    """Pipecat Cloud's Twilio endpoint in `region`; the us-west host has no region prefix."""
    host = "api.pipecat.daily.co" if region == "us-west" else f"{region}.api.pipecat.daily.co"
    return f"wss://{host}/ws/twilio"


# The agent's region's endpoint, and the agent's `agent.organization` name there.
STREAM_URL = stream_url("{{ cookiecutter.region }}")
SERVICE_HOST = f"{{ cookiecutter.agent_name }}.{ORGANIZATION}"

# TwiML Bins fill in {% raw %}{{From}}{% endraw %}-style placeholders per call; the bot reads these as call.parameters.
INBOUND_BIN_PARAMETERS = {"direction": "inbound", "from_number": "{% raw %}{{From}}{% endraw %}", "to_number": "{% raw %}{{To}}{% endraw %}"}
{%- if cookiecutter.outbound_calls == "yes" %}
# Query parameters on the Bin URL (…?callee_name=Alice) become placeholders too.
OUTBOUND_BIN_PARAMETERS = {
    "direction": "outbound",
    "from_number": "{% raw %}{{From}}{% endraw %}",
    "to_number": "{% raw %}{{To}}{% endraw %}",
    "callee_name": "{% raw %}{{callee_name}}{% endraw %}",
}
{%- endif %}


def _document(response: ElementTree.Element) -> str:
    ElementTree.indent(response)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(response, encoding="unicode") + "\n"
    )


def stream_twiml(parameters: dict[str, str]) -> str:
    """Connects the call to this agent on Pipecat Cloud; `parameters` reach the bot as call.parameters."""
    response = ElementTree.Element("Response")
    stream = ElementTree.SubElement(ElementTree.SubElement(response, "Connect"), "Stream", url=STREAM_URL)
    # Twilio drops query strings on Stream URLs, so everything travels as <Parameter>s.
    for name, value in {"_pipecatCloudServiceHost": SERVICE_HOST, **parameters}.items():
        ElementTree.SubElement(stream, "Parameter", name=name, value=value)
    return _document(response)
{%- if cookiecutter.call_transfer == "yes" %}


def dial_twiml(number: str, caller_id: str | None) -> str:
    """Moves the live call to `number`; the caller ID must be a number Twilio lets this account use."""
    response = ElementTree.Element("Response")
    ElementTree.SubElement(response, "Dial", {"callerId": caller_id} if caller_id else {}).text = number
    return _document(response)
{%- endif %}


def write_bins(folder: Path) -> list[Path]:
    folder.mkdir(exist_ok=True)
    bins = {"inbound.xml": stream_twiml(INBOUND_BIN_PARAMETERS)}
{%- if cookiecutter.outbound_calls == "yes" %}
    bins["outbound.xml"] = stream_twiml(OUTBOUND_BIN_PARAMETERS)
{%- endif %}
    for name, content in bins.items():
        (folder / name).write_text(content)
    return [folder / name for name in bins]


if __name__ == "__main__":
    for path in write_bins(Path(__file__).parent / "twiml"):
        print(f"wrote {path}")
