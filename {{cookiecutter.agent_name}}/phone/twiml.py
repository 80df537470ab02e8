"""The TwiML that connects a call to this agent on Pipecat Cloud, and the TwiML Bins made from it.

`python -m commands.twiml_bins` writes the Bins in twiml/: change ORGANIZATION here, then run it.
"""

from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

AGENT_NAME = "{{ cookiecutter.agent_name }}"
REGION = "{{ cookiecutter.region }}"
PLACEHOLDER_ORGANIZATION = "{{ cookiecutter._placeholder_organization }}"
# Your Pipecat Cloud organization (`pipecat cloud organizations list`); deploy.py deploys to it too.
ORGANIZATION = "{{ cookiecutter.organization }}"
BINS_DIR = Path(__file__).resolve().parents[1] / "twiml"


def pipecat_cloud_stream_url(region: str) -> str:
    """Pipecat Cloud's Twilio endpoint in `region`; the us-west host has no region prefix."""
    host = "api.pipecat.daily.co" if region == "us-west" else f"{region}.api.pipecat.daily.co"
    return f"wss://{host}/ws/twilio"


# The agent's region's endpoint, and the agent's `agent.organization` name there.
STREAM_URL = pipecat_cloud_stream_url(REGION)
SERVICE_HOST = f"{AGENT_NAME}.{ORGANIZATION}"

# TwiML Bins fill in {% raw %}{{From}}{% endraw %}-style placeholders per call; the bot reads these as call.parameters.
BIN_PARAMETERS = {
    "inbound.xml": {"direction": "inbound", "from_number": "{% raw %}{{From}}{% endraw %}", "to_number": "{% raw %}{{To}}{% endraw %}"},
{%- if cookiecutter.outbound_calls == "yes" %}
    # Query parameters on the Bin URL (…?callee_name=Alice) become placeholders too.
    "outbound.xml": {
        "direction": "outbound",
        "from_number": "{% raw %}{{From}}{% endraw %}",
        "to_number": "{% raw %}{{To}}{% endraw %}",
        "callee_name": "{% raw %}{{callee_name}}{% endraw %}",
    },
{%- endif %}
}


def document(response: ElementTree.Element) -> str:
    """A TwiML `<Response>` as the text Twilio reads."""
    ElementTree.indent(response)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(response, encoding="unicode") + "\n"
    )


def self_hosted_stream_url(public_url: str) -> str:
    """server.py's Media Stream endpoint: the host of PUBLIC_URL (https://agent.example.com), over wss://."""
    return "wss://" + urlsplit(public_url).netloc + "/ws"


def connect_to_agent(
    response: ElementTree.Element, parameters: dict[str, str], stream_url: str | None
) -> None:
    """Adds the verb that streams the call to this agent: on Pipecat Cloud, or at `stream_url`."""
    url = stream_url or STREAM_URL
    stream = ElementTree.SubElement(ElementTree.SubElement(response, "Connect"), "Stream", url=url)
    # Pipecat Cloud picks the agent by this parameter; a self-hosted server needs none.
    routing = {} if stream_url else {"_pipecatCloudServiceHost": SERVICE_HOST}
    # Twilio drops query strings on Stream URLs, so everything travels as <Parameter>s.
    for name, value in {**routing, **parameters}.items():
        ElementTree.SubElement(stream, "Parameter", name=name, value=value)


def stream_twiml(parameters: dict[str, str], stream_url: str | None = None) -> str:
    """Connects the call to this agent: on Pipecat Cloud, or at `stream_url` (server.py's own /ws).

    `parameters` reach the bot as call.parameters.
    """
    response = ElementTree.Element("Response")
    connect_to_agent(response, parameters, stream_url)
    return document(response)


def write_bins(folder: Path = BINS_DIR) -> list[Path]:
    folder.mkdir(exist_ok=True)
    for name, parameters in BIN_PARAMETERS.items():
        (folder / name).write_text(stream_twiml(parameters))
    return [folder / name for name in BIN_PARAMETERS]
