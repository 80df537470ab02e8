"""Writes the TwiML Bins in twiml/ from phone/twiml.py: python -m commands.twiml_bins

Run it after you change ORGANIZATION in phone/twiml.py, then paste twiml/inbound.xml into your Bin.
"""

from phone.twiml import write_bins

if __name__ == "__main__":
    for path in write_bins():
        print(f"wrote {path}")
