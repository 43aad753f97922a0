"""crm-lookup without a value: the key follows the customer's channel (a real store, a fake CRM)."""

from __future__ import annotations

from typing import Any

from server.model import Identity, InboundEnvelope, TextPart
from server.runtime.http_client import FlowHttpClient
from server.store import Store
from server.store.sessions import save_prechat
from tests.widgets.fake_http import FakeHttp, Seen, json_reply
from tests.widgets.test_crm_connectors import crm_api, http, rest_service, store

__all__ = ["crm_api", "http", "store"]

PHONE = "+14155550100"
ADA = {"properties": {"firstname": "Ada", "tier": "gold"}}


def crm_knows(crm: FakeHttp, **records: dict[str, Any]) -> None:
    """The fake CRM finds a record by ``by=value`` pairs given as ``"by:value"`` keys."""

    def search(seen: Seen) -> tuple[int, str, str]:
        for by, values in seen.query.items():
            record = records.get(f"{by}:{values[0]}")
            if record is not None:
                return json_reply({"results": [record]})
        return json_reply({"results": []})

    crm.routes[("GET", "/contacts/search")] = search


async def contact(store: Store, channel: str, address: str, *identities: Identity) -> str:
    ingested = await store.ingest(
        InboundEnvelope(channel, "acct", address, identities, (TextPart("hi"),))
    )
    return str(ingested.conversation["contact_id"])


def auto(contact_id: str, channel: str, address: str, **props: str) -> dict[str, Any]:
    """The payload the widget sends without a value."""
    return {
        "connector": "",
        "by": props.get("by", "auto"),
        "value": "",
        "contact_id": contact_id,
        "channel": channel,
        "address": address,
    }


def asked(crm: FakeHttp) -> list[dict[str, list[str]]]:
    return [seen.query for seen in crm.requests]


async def test_sms_looks_up_the_phone_number(
    store: Store, http: FlowHttpClient, crm_api: FakeHttp
) -> None:
    crm_knows(crm_api, **{f"phone:{PHONE}": ADA})
    contact_id = await contact(store, "sms", PHONE, Identity("phone", PHONE))
    answer = await rest_service(store, http, crm_api).lookup(auto(contact_id, "sms", PHONE))
    assert answer["found"] is True and answer["fields"]["name"] == "Ada"
    assert (answer["by"], answer["value"]) == ("phone", PHONE)
    assert asked(crm_api) == [{"phone": [PHONE]}]


async def test_whatsapp_address_becomes_the_bare_number(
    store: Store, http: FlowHttpClient, crm_api: FakeHttp
) -> None:
    crm_knows(crm_api, **{f"phone:{PHONE}": ADA})
    address = "whatsapp:14155550100"  # as some providers write it: no plus sign
    answer = await rest_service(store, http, crm_api).lookup(auto("", "whatsapp", address))
    assert answer["found"] is True
    assert asked(crm_api) == [{"phone": [PHONE]}]


async def test_web_chat_uses_the_pre_chat_email_never_the_visitor_token(
    store: Store, http: FlowHttpClient, crm_api: FakeHttp
) -> None:
    crm_knows(crm_api, **{"email:ada@example.com": ADA})
    token = "V-7f3a9c"
    contact_id = await contact(store, "webchat", token, Identity("webchat", token))
    await save_prechat(store, contact_id, {"email": "ada@example.com", "name": "Ada L"}, "Ada L")
    answer = await rest_service(store, http, crm_api).lookup(auto(contact_id, "webchat", token))
    assert answer["found"] is True and answer["fields"]["tier"] == "gold"
    assert (answer["by"], answer["value"]) == ("email", "ada@example.com")
    assert asked(crm_api) == [{"email": ["ada@example.com"]}]


async def test_signed_user_id_first_then_email(
    store: Store, http: FlowHttpClient, crm_api: FakeHttp
) -> None:
    crm_knows(crm_api, **{"email:ada@example.com": ADA})
    contact_id = await contact(
        store,
        "app",
        "U-42",
        Identity("app", "U-42"),
        Identity("email", "ada@example.com"),
    )
    answer = await rest_service(store, http, crm_api).lookup(auto(contact_id, "app", "U-42"))
    assert answer["found"] is True and answer["by"] == "email"
    assert asked(crm_api) == [{"user_id": ["U-42"]}, {"email": ["ada@example.com"]}]


async def test_unsigned_app_ids_and_unknown_visitors_are_not_looked_up(
    store: Store, http: FlowHttpClient, crm_api: FakeHttp
) -> None:
    crm_knows(crm_api)
    contact_id = await contact(store, "app", "shop:U-9", Identity("app_unsigned", "shop:U-9"))
    answer = await rest_service(store, http, crm_api).lookup(auto(contact_id, "app", "shop:U-9"))
    assert answer == {"found": False, "fields": {}, "connector": "crm"}
    assert crm_api.requests == []


async def test_the_designer_picks_the_kind_or_gives_the_value(
    store: Store, http: FlowHttpClient, crm_api: FakeHttp
) -> None:
    crm_knows(crm_api, **{f"phone:{PHONE}": ADA, "email:bea@example.com": ADA})
    contact_id = await contact(
        store, "webchat", "V-1", Identity("webchat", "V-1"), Identity("phone", PHONE)
    )
    service = rest_service(store, http, crm_api, cache_seconds=0)
    by_phone = await service.lookup(auto(contact_id, "webchat", "V-1", by="phone"))
    assert (by_phone["found"], by_phone["value"]) == (True, PHONE)
    given = await service.lookup({"by": "email", "value": "bea@example.com"})
    assert given["found"] is True
    assert asked(crm_api) == [{"phone": [PHONE]}, {"email": ["bea@example.com"]}]
