"""Hot statements on SQLite's own cursor give what SQLAlchemy gives for the same statement."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, insert, select, update

from server.model import Identity
from server.store import hot, ops
from server.store.database import create_sqlite_writer_engine, sqlite_url
from server.store.hot import HotStatement
from server.store.schema import messages, metadata

INSERT = HotStatement(insert(messages).returning(*messages.c))
MARK = HotStatement(
    update(messages)
    .where(messages.c.id == bindparam("b_id"))
    .values(handled=True, seq=messages.c.seq + 1)
    .returning(messages.c.handled, messages.c.seq, messages.c.fields)
)
BY_ID = HotStatement(select(messages.c.text).where(messages.c.id == bindparam("b_id")))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[Engine, str]]:
    """An engine like the SQLite writer's, and a conversation for the messages."""
    engine = create_sqlite_writer_engine(sqlite_url(tmp_path))
    metadata.create_all(engine)
    with engine.begin() as conn:
        contact = ops.find_or_create_contact(conn, (Identity("phone", "+14155550100"),), None, 1.0)
        conversation, _ = ops.open_conversation(
            conn, contact_id=contact, channel="sms", account="+1", address="+2", now=1.0
        )
    yield engine, conversation["id"]
    engine.dispose()


def _message(message_id: str, conversation_id: str) -> dict[str, Any]:
    return {
        "id": message_id,
        "conversation_id": conversation_id,
        "seq": 1,
        "direction": "inbound",
        "author": "contact",
        "parts": [{"kind": "text", "text": "héllo"}],
        "text": "héllo",
        "status": "received",
        "error_code": None,
        "error_message": None,
        "provider_message_id": None,
        "idempotency_key": None,
        "request_id": None,
        "fields": {"Body": "héllo", "NumMedia": "0"},
        "handled": False,
        "created_at": 1.5,
        "updated_at": 1.5,
        "raw": None,
    }


def test_rows_written_and_returned_match_sqlalchemy(db: tuple[Engine, str]) -> None:
    engine, conversation = db
    with engine.begin() as conn:
        returned = hot.one(conn, INSERT, _message("MS1", conversation))
        conn.execute(insert(messages), {**_message("MS2", conversation), "seq": 2})
    with engine.connect() as conn:
        rows = conn.execute(select(messages).order_by(messages.c.id)).all()
    by_sqlalchemy = [dict(row._mapping) for row in rows]
    assert by_sqlalchemy[0] == returned
    assert {**by_sqlalchemy[1], "id": "MS1", "seq": 1} == returned
    assert returned["handled"] is False and returned["fields"]["NumMedia"] == "0"


def test_literals_in_statements_and_rows_changed(db: tuple[Engine, str]) -> None:
    engine, conversation = db
    with engine.begin() as conn:
        hot.execute(conn, INSERT, _message("MS1", conversation))
        changed = hot.first(conn, MARK, {"b_id": "MS1"})
        assert changed == {"handled": True, "seq": 2, "fields": {"Body": "héllo", "NumMedia": "0"}}
        assert hot.first(conn, MARK, {"b_id": "nothing"}) is None
        assert hot.scalar(conn, BY_ID, {"b_id": "MS1"}) == "héllo"
        with pytest.raises(LookupError):
            hot.one(conn, BY_ID, {"b_id": "nothing"})


def test_a_failed_statement_rolls_back_with_the_transaction(db: tuple[Engine, str]) -> None:
    engine, conversation = db
    with pytest.raises(Exception, match="UNIQUE"), engine.begin() as conn:
        hot.execute(conn, INSERT, _message("MS1", conversation))
        hot.execute(conn, INSERT, _message("MS1", conversation))
    with engine.connect() as conn:
        assert conn.execute(select(messages.c.id)).all() == []
