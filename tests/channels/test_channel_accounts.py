"""The channels file and the single-account environment variables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.channel_accounts import ChannelConfigError, load_channel_accounts

ENV = {
    "THREADLINE_TWILIO_ACCOUNT_SID": "AC1",
    "THREADLINE_TWILIO_AUTH_TOKEN": "twilio-secret",
    "THREADLINE_WHATSAPP_ACCESS_TOKEN": "meta-token",
    "THREADLINE_WHATSAPP_APP_SECRET": "meta-secret",
    "THREADLINE_WHATSAPP_VERIFY_TOKEN": "verify",
}


def test_environment_describes_one_account_of_each_kind(tmp_path: Path) -> None:
    accounts = load_channel_accounts(tmp_path, "https://chat.example.com", ENV)
    [twilio] = accounts.twilio
    assert (twilio.account_sid, twilio.auth_token, twilio.api_base) == (
        "AC1",
        "twilio-secret",
        None,
    )
    assert accounts.twilio_for_number("+15550000000") is twilio  # every number, default flow
    meta = accounts.whatsapp_for("any-phone-number-id")
    assert meta is not None and meta.app_secret == "meta-secret"
    assert accounts.account_flows() == {}
    assert "secret" not in repr(accounts) and "meta-token" not in repr(accounts)


def test_nothing_configured(tmp_path: Path) -> None:
    accounts = load_channel_accounts(tmp_path, None, {})
    assert accounts.twilio == () and accounts.whatsapp == ()


def test_channels_file_in_the_data_dir_maps_numbers_to_flows(tmp_path: Path) -> None:
    config = {
        "public_url": "https://from-file.example.com",
        "twilio": [
            {"account_sid": "AC1", "auth_token": "t1", "numbers": {"+1 415 555 0100": "sales"}},
            {
                "account_sid": "AC2",
                "auth_token": "t2",
                "numbers": ["whatsapp:+14155238886", "+14155550111"],
            },
        ],
        "whatsapp": [
            {"phone_number_id": "123", "access_token": "a", "app_secret": "s", "flow": "support"}
        ],
    }
    (tmp_path / "channels.json").write_text(json.dumps(config))
    accounts = load_channel_accounts(tmp_path, None, ENV)  # the file wins over the variables
    assert accounts.public_url == "https://from-file.example.com"
    assert [a.account_sid for a in accounts.twilio] == ["AC1", "AC2"]
    assert accounts.twilio_for_number("+14155550100") is accounts.twilio[0]  # normalised
    assert accounts.twilio_for_number("whatsapp:+14155238886") is accounts.twilio[1]
    assert accounts.twilio_for_number("+19999999999") is None  # two accounts: no guessing
    assert accounts.twilio_by_sid("AC2") is accounts.twilio[1]
    assert accounts.account_flows() == {
        ("sms", "+14155550100"): "sales",
        ("whatsapp", "123"): "support",
    }
    assert load_channel_accounts(tmp_path, "https://env.example.com", {}).public_url == (
        "https://env.example.com"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot read channels file"),
        ("[]", "must be a JSON object"),
        ('{"twilio": [{"auth_token": "x"}]}', "twilio[0]: 'account_sid' is required"),
        ('{"whatsapp": [{"phone_number_id": "1"}]}', "whatsapp[0]: 'access_token' is required"),
        ('{"twilio": {"a": 1}}', "'twilio' must be a list of objects"),
    ],
)
def test_a_bad_channels_file_names_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "custom.json"
    path.write_text(content)
    with pytest.raises(ChannelConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_channel_accounts(tmp_path, None, {"THREADLINE_CHANNELS_FILE": str(path)})


def test_a_phone_number_id_nobody_configured_has_no_account(tmp_path: Path) -> None:
    """A single configured id used to answer for every id its app received."""
    only = {"whatsapp": [{"phone_number_id": "123", "access_token": "a", "app_secret": "s"}]}
    (tmp_path / "channels.json").write_text(json.dumps(only))
    accounts = load_channel_accounts(tmp_path, None, {})
    assert accounts.whatsapp_for("123") is accounts.whatsapp[0]
    assert accounts.whatsapp_for("456") is None
    # The environment's account serves every id, or the listed ones only.
    listed = {**ENV, "THREADLINE_WHATSAPP_PHONE_NUMBER_ID": "123, 789"}
    restricted = load_channel_accounts(tmp_path / "none", None, listed)
    assert [a.phone_number_id for a in restricted.whatsapp] == ["123", "789"]
    assert restricted.whatsapp_for("789") is restricted.whatsapp[1]
    assert restricted.whatsapp_for("456") is None
