"""Twilio: a call's Media Stream (stream.py), the REST API (rest.py) and TwiML documents (twiml.py)."""
