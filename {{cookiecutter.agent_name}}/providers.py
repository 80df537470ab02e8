{%- set catalog = cookiecutter._providers -%}
{%- set chosen = [("stt", catalog.stt[cookiecutter.stt]), ("llm", catalog.llm[cookiecutter.llm]), ("tts", catalog.tts[cookiecutter.tts])] -%}
"""The agent's services. Speech-to-text: {{ chosen[0][1].label }}.
LLM: {{ chosen[1][1].label }}. Text-to-speech: {{ chosen[2][1].label }}.

Rendered from the template's provider catalog. Keys, models, voices and endpoints come from the
environment (see .env.example). The pipeline runs at the phone line's 8 kHz; a voice that only
speaks at another rate is resampled by the Twilio serializer.
"""

import os

{% for kind, provider in chosen|sort(attribute="1.module") -%}
from {{ provider.module }} import {{ provider.class }}
{% endfor %}
from env_settings import endpoint_override, required_env
{% for kind, provider in chosen %}

def create_{{ kind }}({% if kind == "llm" %}system_prompt: str{% endif %}) -> {{ provider.class }}:
    return {{ provider.class }}(
        api_key=required_env("{{ provider.api_key }}"),
{%- if "sample_rate" in provider %}
        sample_rate={{ provider.sample_rate }},
{%- endif %}
{%- if provider.settings or kind == "llm" %}
        settings={{ provider.class }}.Settings(
{%- for field, setting in provider.settings.items() %}
            {{ field }}={% if "default" in setting %}os.getenv("{{ setting.env }}", "{{ setting.default }}"){% else %}required_env("{{ setting.env }}"){% endif %},
{%- endfor %}
{%- if kind == "llm" %}
            system_instruction=system_prompt,
{%- endif %}
        ),
{%- endif %}
{%- if "endpoint" in provider %}
        **endpoint_override("{{ provider.endpoint.arg }}", "{{ provider.endpoint.env }}"),
{%- endif %}
    )
{% endfor -%}
