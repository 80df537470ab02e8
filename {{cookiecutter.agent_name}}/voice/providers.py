{%- set agent = cookiecutter | agent -%}
"""The agent's services, as chosen when this agent was made:
{%- for provider in agent.providers %}
- {{ provider.role }}: {{ provider.label }}
{%- endfor %}

Keys, models, voices and endpoints come from settings.py. The pipeline runs at the phone line's 8 kHz; a
voice that only speaks at another rate is resampled by the Twilio serializer.
{%- if agent.realtime %} The speech-to-speech service
takes the caller's 8 kHz audio and resamples it to its own rate.
{%- endif %}
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import settings
from phrases import SYSTEM_PROMPT
from voice.services import Services

# Each factory imports its service: pipecat's services and their SDKs (openai's alone takes about 300 ms) load
# at the warm-up, once the server listens, rather than before it can accept a call.
if TYPE_CHECKING:
{%- for line in agent.annotation_imports %}
{{ line }}
{%- endfor %}
{%- if agent.built_on_the_loop %}

# Each call builds its services on its own event loop as it starts, because what these make as they are
# built binds to the loop it is made on:{% for label, reason in agent.built_on_the_loop %}
# - {{ label }}: {{ reason }}{% endfor %}
SERVICES_BUILT_AHEAD = False
{%- else %}

# Each call's services are built ahead, for the next call, on startup.services_ahead's worker thread.
SERVICES_BUILT_AHEAD = True
{%- endif %}
{%- if agent.realtime %}

{%- if agent.providers[0].local_turns %}

# {{ agent.providers[0].label }} announces no caller speech: the agent's Silero VAD and smart-turn take
# the turns, and the service tells the model where each one starts and ends.
MODEL_TAKES_TURNS = False
{%- else %}

# The model's server-side voice detection takes the turns, and pipecat follows its speech events.
MODEL_TAKES_TURNS = True
{%- endif %}
{%- if agent.providers[0].reconnects %}
# pipecat's service reconnects when the connection fails (up to 3 times in a row), and the call goes on.
MODEL_RECONNECTS = True
{%- else %}
# A failed connection is the end of the model for this call: the call ends with the trouble prompt.
MODEL_RECONNECTS = False
{%- endif %}
{%- endif %}


class Providers:
    """Builds the chosen services; a missing key raises settings.MissingSetting, naming it.

    The agent's tests subclass it to stand in for a provider that no local fake speaks.
    """

    def create_services(self) -> Services:
{%- if agent.realtime %}
        return Services(llm=self.create_realtime())
{%- else %}
        return Services(stt=self.create_stt(), llm=self.create_llm(), tts=self.create_tts())
{%- endif %}
{%- for provider in agent.providers %}

    def {{ provider.factory }}(self) -> {{ provider.class_name }}:
{%- for line in provider.factory_imports %}
{{ line }}
{%- endfor %}
{# ruff format's blank line after the imports #}
{%- for line in provider.construction %}
{{ line }}
{%- endfor %}
{%- endfor %}
