"""CRM look-ups through the runtime's handler: a fake REST CRM, a CSV file, the contact store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from server.crm.connectors import CrmError
from server.crm.service import CrmService
from server.model import Identity, InboundEnvelope, TextPart
from server.runtime.http_client import MAX_RESPONSE_BYTES, FlowHttpClient, HttpGuard
from server.store import Store
from server.store.database import sqlite_url
from tests.widgets.fake_http import FakeHttp, json_reply

PHONE = "+14155550100"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(sqlite_url(tmp_path))
    yield opened
    await opened.close()


@pytest.fixture
async def http() -> AsyncIterator[FlowHttpClient]:
    client = FlowHttpClient(HttpGuard(allowed_hosts=("127.0.0.1",)))
    yield client
    await client.aclose()


@pytest.fixture
def crm_api() -> Iterator[FakeHttp]:
    with FakeHttp() as fake:
        yield fake


def rest_service(store: Store, http: FlowHttpClient, crm: FakeHttp, **extra: object) -> CrmService:
    config = {
        "default": "crm",
        "cache_seconds": 300,
        "connectors": {
            "crm": {
                "type": "rest",
                "url": crm.origin + "/contacts/search?{by}={value}",
                "headers": {"Authorization": "Bearer ${TEST_CRM_TOKEN}"},
                "record": "results.0",
                "fields": {"name": "properties.firstname", "tier": "properties.tier"},
                "timeout": 0.5,
                **extra,
            }
        },
    }
    return CrmService(store, http, config)


async def test_rest_found_maps_fields_sends_auth_and_caches(
    store: Store, http: FlowHttpClient, crm_api: FakeHttp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_CRM_TOKEN", "s3cret")
    crm_api.routes[("GET", "/contacts/search")] = json_reply(
        {"results": [{"properties": {"firstname": "Ada", "tier": "gold"}}]}
    )
    service = rest_service(store, http, crm_api)
    answer = await service.lookup({"by": "phone", "value": PHONE})
    assert answer == {"found": True, "fields": {"name": "Ada", "tier": "gold"}, "connector": "crm"}
    seen = crm_api.requests[0]
    assert seen.query == {"phone": [PHONE]}
    assert seen.headers["Authorization"] == "Bearer s3cret"
    # A second look-up, even by a fresh service (another node, a restart), is served from the store.
    again = await rest_service(store, http, crm_api).lookup({"by": "phone", "value": PHONE})
    assert again["cached"] is True and again["fields"] == {"name": "Ada", "tier": "gold"}
    assert len(crm_api.requests) == 1


async def test_rest_cache_expires(store: Store, http: FlowHttpClient, crm_api: FakeHttp) -> None:
    crm_api.routes[("GET", "/contacts/search")] = json_reply({"results": []})
    service = rest_service(store, http, crm_api, cache_seconds=0)
    for _ in range(2):
        assert (await service.lookup({"by": "phone", "value": PHONE}))["found"] is False
    assert len(crm_api.requests) == 2


@pytest.mark.parametrize(
    ("reply", "found"),
    [(json_reply({"results": []}), False), ((404, "application/json", "{}"), False)],
)
async def test_rest_not_found(
    store: Store, http: FlowHttpClient, crm_api: FakeHttp, reply: tuple[int, str, str], found: bool
) -> None:
    crm_api.routes[("GET", "/contacts/search")] = reply
    answer = await rest_service(store, http, crm_api).lookup({"by": "phone", "value": PHONE})
    assert answer["found"] is found and answer["fields"] == {}


@pytest.mark.parametrize(
    ("reply", "delay", "message"),
    [
        ((500, "application/json", '{"error": "down"}'), 0.0, "CRM answered 500"),
        ((200, "application/json", "{not json"), 0.0, "not JSON"),
        (json_reply({"results": []}), 1.5, "timed out"),
    ],
)
async def test_rest_failures_raise_and_are_not_cached(
    store: Store,
    http: FlowHttpClient,
    crm_api: FakeHttp,
    reply: tuple[int, str, str],
    delay: float,
    message: str,
) -> None:
    crm_api.routes[("GET", "/contacts/search")] = reply
    crm_api.delay = delay
    service = rest_service(store, http, crm_api)
    with pytest.raises(CrmError, match=message):
        await service.lookup({"by": "phone", "value": PHONE})
    crm_api.delay = 0.0
    crm_api.routes[("GET", "/contacts/search")] = json_reply({"results": [{"properties": {}}]})
    assert (await service.lookup({"by": "phone", "value": PHONE}))["found"] is True


async def test_csv_connector(store: Store, http: FlowHttpClient, tmp_path: Path) -> None:
    sheet = tmp_path / "contacts.csv"
    sheet.write_text("Name,Phone,Email,Plan\nAda,+1 (415) 555-0100,ada@example.com,pro\n")
    config = {
        "default": "sheet",
        "connectors": {
            "sheet": {
                "type": "csv",
                "path": "contacts.csv",
                "columns": {"phone": "Phone", "email": "Email"},
                "fields": {"name": "Name", "plan": "Plan"},
            }
        },
    }
    service = CrmService(store, http, config, base=tmp_path)
    by_phone = await service.lookup({"by": "phone", "value": PHONE})
    assert by_phone["fields"] == {"name": "Ada", "plan": "pro"}
    by_email = await service.lookup({"by": "email", "value": "ADA@example.com"})
    assert by_email["found"] is True
    missing = await service.lookup({"by": "phone", "value": "+14155550199"})
    assert missing["found"] is False


async def test_contact_store_connector(store: Store, http: FlowHttpClient) -> None:
    ingested = await store.ingest(
        InboundEnvelope(
            "sms",
            "+15550002222",
            PHONE,
            (Identity("phone", PHONE),),
            (TextPart("hi"),),
            profile_name="Ada",
        )
    )
    service = CrmService(store, http)
    found = await service.lookup({"by": "phone", "value": PHONE})
    assert found == {"found": True, "fields": {"name": "Ada"}, "connector": "contacts"}
    by_id = await service.lookup({"by": "id", "value": ingested.conversation["contact_id"]})
    assert by_id["found"] is True
    assert (await service.lookup({"by": "email", "value": "x@y.z"}))["found"] is False
    with pytest.raises(CrmError, match="no CRM connector"):
        await service.lookup({"connector": "salesforce", "by": "phone", "value": PHONE})


async def test_rest_redirects_are_not_followed(
    store: Store, http: FlowHttpClient, crm_api: FakeHttp
) -> None:
    # The CRM is allowed by address (127.0.0.1); the redirect target is another loopback
    # service under a name that is not: following it would be an SSRF hop past the guard.
    with FakeHttp() as internal:
        internal.routes[("GET", "/admin")] = json_reply({"results": [{"properties": {}}]})
        crm_api.routes[("GET", "/contacts/search")] = (302, "application/json", "{}")
        location = f"http://localhost:{internal.port}/admin"
        crm_api.headers[("GET", "/contacts/search")] = {"Location": location}
        with pytest.raises(CrmError, match="CRM answered 302"):
            await rest_service(store, http, crm_api).lookup({"by": "phone", "value": PHONE})
    assert internal.requests == []


async def test_rest_answer_over_the_cap_fails(
    store: Store, http: FlowHttpClient, crm_api: FakeHttp
) -> None:
    padding = "x" * (MAX_RESPONSE_BYTES + 10)
    crm_api.routes[("GET", "/contacts/search")] = json_reply({"results": [], "pad": padding})
    with pytest.raises(CrmError, match="larger than 1 MiB"):
        await rest_service(store, http, crm_api).lookup({"by": "phone", "value": PHONE})
