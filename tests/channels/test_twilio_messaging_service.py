"""Twilio sends through a Messaging Service (``MessagingServiceSid``) instead of a From number:
the real ``twilio`` client against the fake Twilio API, the channels file, and a real server
that answers a customer who wrote to a number of the service's pool."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from channels.twilio import TwilioSender
from server.channel_accounts import ChannelConfigError, load_channel_accounts
from server.model import TextPart
from tests.channels.fakes import FakeTwilioApi
from tests.channels.server_helpers import (
    BUSINESS_NUMBER,
    CUSTOMER_NUMBER,
    TWILIO_SID,
    TWILIO_TOKEN,
    only_conversation,
    outbound,
    post_twilio,
    start_server,
    twilio_form,
    twilio_sends,
    wait_for,
)
from tests.channels.test_twilio_sender import ACCOUNT_SID, AUTH_TOKEN, SMS, WHATSAPP, message

SERVICE = "MG" + "a" * 32
OTHER_SERVICE = "MG" + "b" * 32
POOL_NUMBER = "+14155550177"


@pytest.fixture
async def service_sender(twilio_api: FakeTwilioApi) -> AsyncIterator[TwilioSender]:
    twilio_api.service_numbers[SERVICE] = POOL_NUMBER
    services = {SMS.channel_account: SERVICE, WHATSAPP.channel_account: SERVICE}
    sender = TwilioSender(
        ACCOUNT_SID, AUTH_TOKEN, api_base=twilio_api.base_url, messaging_service_for=services.get
    )
    yield sender
    await sender.aclose()


def _posts(api: FakeTwilioApi) -> list[Any]:
    return [r for r in api.requests if r.method == "POST"]


async def test_a_send_names_the_service_and_no_from(
    service_sender: TwilioSender, twilio_api: FakeTwilioApi
) -> None:
    outcome = await service_sender.send(SMS, message(TextPart("Hello Ada")))
    assert outcome.ok
    [request] = _posts(twilio_api)
    assert request.form == {
        "MessagingServiceSid": [SERVICE],
        "To": ["+14155550100"],
        "Body": ["Hello Ada"],
    }
    assert twilio_api.created[0]["from"] == POOL_NUMBER  # Twilio's pick


async def test_crash_recovery_finds_a_service_send_without_knowing_its_sender(
    service_sender: TwilioSender, twilio_api: FakeTwilioApi
) -> None:
    intended = time.time()
    first = await service_sender.send(SMS, message(TextPart("Your order shipped")))
    outcome = await service_sender.send_unless_sent(
        SMS, message(TextPart("Your order shipped")), intended
    )
    assert outcome.ok and outcome.provider_message_ids == first.provider_message_ids
    assert len(_posts(twilio_api)) == 1
    [lookup] = twilio_api.lookups()
    assert lookup.query["To"] == ["+14155550100"] and "From" not in lookup.query


async def test_crash_recovery_ignores_the_same_text_from_another_service(
    service_sender: TwilioSender, twilio_api: FakeTwilioApi
) -> None:
    """Another service (another brand on the same account) said the same to this customer:
    that is not our lost send."""
    twilio_api.service_numbers[OTHER_SERVICE] = "+14155550188"
    other = {SMS.channel_account: OTHER_SERVICE}
    intended = time.time()
    brand = TwilioSender(
        ACCOUNT_SID, AUTH_TOKEN, api_base=twilio_api.base_url, messaging_service_for=other.get
    )
    try:
        await brand.send(SMS, message(TextPart("Thanks!")))
    finally:
        await brand.aclose()
    outcome = await service_sender.send_unless_sent(SMS, message(TextPart("Thanks!")), intended)
    assert outcome.ok
    assert [r.field("MessagingServiceSid") for r in _posts(twilio_api)] == [
        OTHER_SERVICE,
        SERVICE,
    ]


async def test_whatsapp_through_a_service_keeps_the_prefix(
    service_sender: TwilioSender, twilio_api: FakeTwilioApi
) -> None:
    await service_sender.send(WHATSAPP, message(TextPart("Hi there")))
    [request] = _posts(twilio_api)
    assert request.field("To") == "whatsapp:+14155550100"
    assert request.field("From") is None and request.field("MessagingServiceSid") == SERVICE


def test_the_channels_file_configures_services(tmp_path: Path) -> None:
    config = {
        "twilio": [
            {
                "account_sid": "AC1",
                "auth_token": "t1",
                "messaging_service_sid": SERVICE,
                "numbers": {
                    "+1 415 555 0100": {"flow": "sales", "messaging_service_sid": OTHER_SERVICE},
                    "+14155550111": "support",
                },
            },
            {"account_sid": "AC2", "auth_token": "t2", "numbers": ["+14155550122"]},
        ]
    }
    (tmp_path / "channels.json").write_text(json.dumps(config))
    accounts = load_channel_accounts(tmp_path, None, {})
    first, second = accounts.twilio
    assert first.messaging_service_for("+14155550100") == OTHER_SERVICE
    assert first.messaging_service_for("+14155550111") == SERVICE
    assert second.messaging_service_for("+14155550122") is None
    # A number of the service's pool need not be listed: it is the account with a service.
    assert accounts.twilio_for_number(POOL_NUMBER) is first
    assert accounts.twilio_for_number("+14155550122") is second
    assert accounts.account_flows() == {
        ("sms", "+14155550100"): "sales",
        ("sms", "+14155550111"): "support",
    }
    env = {
        "THREADLINE_TWILIO_ACCOUNT_SID": "AC1",
        "THREADLINE_TWILIO_AUTH_TOKEN": "t",
        "THREADLINE_TWILIO_MESSAGING_SERVICE_SID": SERVICE,
    }
    [from_env] = load_channel_accounts(tmp_path / "none", None, env).twilio
    assert from_env.messaging_service_for(BUSINESS_NUMBER) == SERVICE


def test_a_malformed_service_sid_is_refused_at_start(tmp_path: Path) -> None:
    config = {"twilio": [{"account_sid": "AC1", "auth_token": "t", "messaging_service_sid": "x"}]}
    path = tmp_path / "channels.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ChannelConfigError, match="twilio\\[0\\]: 'messaging_service_sid'"):
        load_channel_accounts(tmp_path, None, {})


def test_a_customer_of_a_pool_number_is_answered_through_the_service(
    server_factory: Any, flows_dir: Path, tmp_path: Path, twilio_api: FakeTwilioApi
) -> None:
    twilio_api.service_numbers[SERVICE] = POOL_NUMBER
    channels = tmp_path / "channels.json"
    account = {
        "account_sid": TWILIO_SID,
        "auth_token": TWILIO_TOKEN,
        "api_base": twilio_api.base_url,
        "messaging_service_sid": SERVICE,
        "numbers": [BUSINESS_NUMBER],
    }
    channels.write_text(json.dumps({"twilio": [account]}))
    server = start_server(server_factory, flows_dir, {"THREADLINE_CHANNELS_FILE": str(channels)})
    # Twilio posts what reached a number of the service's pool with the service's SID.
    form = twilio_form("hi", "SMpool1", To=POOL_NUMBER, MessagingServiceSid=SERVICE)
    assert post_twilio(server, form).status_code == 200
    [reply] = wait_for(lambda: twilio_sends(twilio_api), what="the greeting")
    assert reply.field("MessagingServiceSid") == SERVICE
    assert reply.field("From") is None and reply.field("To") == CUSTOMER_NUMBER
    detail = only_conversation(server)
    assert (detail["channel"], detail["channel_account"]) == ("sms", POOL_NUMBER)
    wait_for(lambda: outbound(only_conversation(server))[0]["provider_message_id"], what="sid")
