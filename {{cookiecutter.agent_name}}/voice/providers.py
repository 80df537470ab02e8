{%- set agent = cookiecutter | agent -%}
"""The agent's services: {% for provider in agent.providers %}{{ provider.label }} ({{ provider.kind }}){{ ", " if not loop.last else "." }}{% endfor %}

Generated for the providers chosen when this agent was made. Keys, models, voices and endpoints
come from settings.py. The pipeline runs at the phone line's 8 kHz; a voice that only speaks at another rate
is resampled by the Twilio serializer.
{%- if agent.realtime %} The speech-to-speech
service takes the caller's 8 kHz audio and resamples it to its own rate.
{%- endif %}
"""

{% for provider in agent.providers | sort(attribute="module") -%}
{% for line in provider.imports or ["from " ~ provider.module ~ " import " ~ provider.class_name] -%}
{{ line }}
{% endfor -%}
{% endfor %}
import settings
from phrases import SYSTEM_PROMPT
from voice.services import Services


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
{%- if provider.construction %}
{%- for line in provider.construction %}
{{ line }}
{%- endfor %}
{%- else %}
        return {{ provider.class_name }}(
            api_key=settings.{{ provider.api_key }}.value(),
{%- if provider.sample_rate %}
            sample_rate={{ provider.sample_rate }},
{%- endif %}
{%- if provider.fields or provider.kind == "llm" %}
            settings={{ provider.class_name }}.Settings(
{%- for field, name in provider.fields %}
                {{ field }}=settings.{{ name }}.value(),
{%- endfor %}
{%- if provider.kind == "llm" %}
                system_instruction=SYSTEM_PROMPT,
{%- endif %}
            ),
{%- endif %}
{%- if provider.endpoint %}
            **settings.{{ provider.endpoint.setting }}.as_argument("{{ provider.endpoint.argument }}"),
{%- endif %}
        )
{%- endif %}
{%- endfor %}
