"""The TwiML Bins route calls to this agent, at the stream URL of its Pipecat Cloud region."""

from xml.etree import ElementTree

from phone import twiml

# Pipecat Cloud's Twilio endpoints, as its Twilio guide lists them.
DOCUMENTED_STREAM_URLS = {
    "us-west": "wss://api.pipecat.daily.co/ws/twilio",
    "us-east": "wss://us-east.api.pipecat.daily.co/ws/twilio",
    "eu-central": "wss://eu-central.api.pipecat.daily.co/ws/twilio",
    "ap-south": "wss://ap-south.api.pipecat.daily.co/ws/twilio",
}


def test_each_region_has_its_documented_stream_url():
    for region, url in DOCUMENTED_STREAM_URLS.items():
        assert twiml.pipecat_cloud_stream_url(region) == url


def test_the_bins_stream_to_this_agent(tmp_path):
    for path in twiml.write_bins(tmp_path):
        stream = ElementTree.parse(path).getroot().find("Connect/Stream")
        assert stream.get("url") == DOCUMENTED_STREAM_URLS[twiml.REGION]
        parameters = {p.get("name"): p.get("value") for p in stream.iter("Parameter")}
        assert parameters["_pipecatCloudServiceHost"] == f"{twiml.AGENT_NAME}.{twiml.ORGANIZATION}"
        assert parameters["direction"] == path.stem  # inbound.xml, outbound.xml
        assert (twiml.BINS_DIR / path.name).read_text() == path.read_text()  # twiml/ is up to date
