"""Every sentence the caller hears, and every instruction the LLM gets, in one place.

Change the agent's voice or language here, and in system_prompt.txt and greeting.txt.
{%- if cookiecutter.pipeline == "realtime" %} The
speech-to-speech model says each sentence when it is needed (SAY_EXACTLY), OPENING as each call starts.
Only technical_trouble.wav is a recording, because it plays when the model itself fails: record it again
if you change TECHNICAL_TROUBLE.
{%- else %} OPENING is
synthesized once per process with the agent's own text-to-speech; the rest is spoken when it is
needed. Only technical_trouble.wav is a recording, because it plays when the text-to-speech itself
is down: record it again if you change TECHNICAL_TROUBLE.
{%- endif %}
"""

from pathlib import Path

HERE = Path(__file__).parent
SYSTEM_PROMPT = (HERE / "system_prompt.txt").read_text(encoding="utf-8").strip()

{%- if cookiecutter.call_recording == "yes" %}
RECORDING_NOTICE = "This call is recorded for quality and training purposes."
{%- endif %}
# Your answer to the greeting question, kept in a file: every character of it as typed.
GREETING = (HERE / "greeting.txt").read_text(encoding="utf-8").removesuffix("\n")
GOODBYE = "Thank you for calling. Goodbye!"
APOLOGY = "Sorry, I'm having a little trouble. Could you say that again?"
NOT_HEARD = "Sorry, I didn't catch that. Could you say that again?"
TECHNICAL_TROUBLE = "We are experiencing technical difficulties. Please call again later. Goodbye."
STILL_THERE = "Are you still there?"
IDLE_GOODBYE = "I haven't heard anything, so I'll end the call now. Please call again anytime. Goodbye!"
TIME_LIMIT_NOTICE = "We're almost out of time for this call, so let's wrap up."
TIME_LIMIT_GOODBYE = "We've reached the time limit for this call. Thank you for calling. Goodbye!"
{%- if cookiecutter.call_transfer == "yes" %}
TRANSFERRING = "Please hold while I transfer you to a colleague."
TRANSFER_FAILED = "I'm sorry, I couldn't transfer you right now. Can I help you with anything else?"
# Twilio's own voice says this as a transfer ends, while the call streams to the bot again.
RETURNING_FROM_TRANSFER = "One moment, please."
TRANSFER_UNANSWERED = "I'm sorry, nobody could take your call right now. Can I help you with anything else?"
BACK_FROM_TRANSFER = "You're back with me. Is there anything else I can help you with?"
{%- if cookiecutter.transfer_mode == "warm" %}
# What the person taking a warm transfer hears first: HANDOVER_INTRO, then the LLM's summary of the call.
HANDOVER_INTRO = "Transferred call."
HANDOVER_NO_SUMMARY = "There is no summary of the call."
HANDOVER_SUMMARY_INSTRUCTION = (
    "This is a phone call so far. The caller is about to be transferred to a colleague. In one or two short "
    "spoken sentences, without lists or markdown, tell the colleague who is calling and what they need."
)
{%- endif %}
BACK_FROM_TRANSFER_INSTRUCTION = (
    "The caller was transferred to a colleague and is back with you now; you tell them how the transfer went "
    "in the next message. Help with what they say."
)
{%- endif %}

# What the caller hears first, before anything they say, in this order.
OPENING = [{% if cookiecutter.call_recording == "yes" %}RECORDING_NOTICE, {% endif %}GREETING]
{%- if cookiecutter.pipeline == "realtime" %}
# How the speech-to-speech model is given the words the bot must say (the greeting, a goodbye, a notice).
SAY_EXACTLY = "Say exactly these words, and nothing else: {words}"
{%- endif %}
# The LLM's cue once the opening has played.
GREETED = "A caller just connected, and you greeted them with the next message. Help with what they say."
{%- if cookiecutter.outbound_calls == "yes" %}
CALLEE_INSTRUCTION = (
    "You placed this call to {name}. Wait for them to answer, then say who you are and why you are calling."
)
# Left on an answering machine, after its greeting and beep; then the bot hangs up. Your answer, as typed.
VOICEMAIL_MESSAGE = (HERE / "voicemail_message.txt").read_text(encoding="utf-8").removesuffix("\n")
{%- endif %}
