"""Pointing a Twilio number at a TwiML Bin, which every agent can do."""

from tests.calling import assert_no_secret, run_command


def test_number_setup_shows_the_number_then_points_it_at_the_bin(fakes):
    fakes.twilio.numbers = [
        {
            "sid": "PN" + "3" * 32,
            "phone_number": "+15550002222",
            "friendly_name": "Support line",
            "voice_url": "https://demo.twilio.com/welcome/voice/",
            "voice_method": "POST",
        }
    ]
    bin_url = "https://handler.twilio.com/twiml/EH0123456789abcdef"

    refused = run_command(fakes, "-m", "commands.number_setup", "+15550002222", "--bin-url", bin_url)
    assert refused.returncode == 1
    assert "https://demo.twilio.com/welcome/voice/" in refused.stdout
    assert not [r for r in fakes.twilio.requests if "/IncomingPhoneNumbers/" in r.path]

    changed = run_command(fakes, "-m", "commands.number_setup", "+15550002222", "--bin-url", bin_url, "--yes")
    assert changed.returncode == 0, changed.stderr
    update = [r for r in fakes.twilio.requests if "/IncomingPhoneNumbers/" in r.path][-1]
    assert update.form == {"VoiceUrl": bin_url, "VoiceMethod": "POST"}
    assert_no_secret(changed.stdout + changed.stderr, fakes)
