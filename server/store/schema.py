"""The relational schema, in SQLAlchemy Core. Alembic migrations build it (see migrations/).

Times are epoch seconds (floats): portable between SQLite and PostgreSQL and cheap to compare.
Columns named ``*_key`` hold a value only while a uniqueness rule applies (an open
conversation, an active execution) and NULL otherwise, so one unique index enforces the rule on
both databases without partial indexes.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

ID = 34  # two-letter prefix + 32 hex digits

contacts = Table(
    "contacts",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("display_name", String(255)),
    Column("attributes", JSON, nullable=False, default=dict),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

identities = Table(
    "identities",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("value", String(255), primary_key=True),
    Column("contact_id", String(ID), ForeignKey("contacts.id"), nullable=False, index=True),
    Column("verified", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("contact_id", String(ID), ForeignKey("contacts.id"), nullable=False, index=True),
    Column("channel", String(32), nullable=False),
    Column("channel_account", String(255), nullable=False),
    Column("customer_address", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("agent_id", String(64)),
    Column("queue", String(64)),
    Column("attributes", JSON, nullable=False, default=dict),
    Column("context", JSON, nullable=False, default=dict),
    Column("next_seq", Integer, nullable=False, default=1),
    Column("last_inbound_at", Float),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False, index=True),
    Column("closed_at", Float),
    # channel|account|address while the conversation is open: one open conversation per address.
    Column("open_key", String(600), unique=True),
    # The customer's answer (1-5) to the satisfaction question asked after the close, and
    # channel|account|address while that question waits for its answer (one per address).
    Column("satisfaction", Integer),
    Column("satisfaction_key", String(600), unique=True),
)

messages = Table(
    "messages",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("conversation_id", String(ID), ForeignKey("conversations.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("direction", String(8), nullable=False),
    Column("author", String(80), nullable=False),
    Column("parts", JSON, nullable=False),
    Column("text", Text, nullable=False, default=""),
    Column("status", String(16), nullable=False),
    Column("error_code", String(32)),
    Column("error_message", Text),
    Column("provider_message_id", String(128), index=True),
    # channel:MessageSid / channel:wamid / app:echo id: a retried delivery is stored once.
    Column("idempotency_key", String(300), unique=True),
    Column("request_id", String(120), index=True),  # the execution's send request, if any
    # Studio's trigger.message fields for inbound messages, and whether a flow or agent has seen
    # the message yet (unhandled ones are dispatched again after a crash).
    Column("fields", JSON),
    Column("handled", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("raw", JSON),
    # When the customer deleted the message (a WhatsApp revoke); its content stays for the record.
    Column("deleted_at", Float),
    # Earlier versions of a message the customer edited, oldest first: [{text, parts, until, by}].
    Column("edits", JSON),
    # The agent's display name when the agent wrote it, shown to the customer beside the text.
    Column("author_name", String(255)),
    Index("ix_messages_conversation_seq", "conversation_id", "seq", unique=True),
)

events = Table(
    "events",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("contact_id", String(ID), nullable=False, index=True),
    Column("conversation_id", String(ID), index=True),
    Column("type", String(64), nullable=False),
    Column("channel", String(32)),
    Column("session", String(64)),
    Column("time", Float, nullable=False),
    Column("properties", JSON, nullable=False, default=dict),
)

flows = Table(
    "flows",
    metadata,
    Column("sid", String(ID), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("name", String(255), nullable=False, index=True),
    Column("hash", String(64), nullable=False),
    Column("definition", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
)

executions = Table(
    "executions",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("flow_sid", String(ID), nullable=False),
    Column("flow_version", Integer, nullable=False),
    Column("conversation_id", String(ID), index=True),
    Column("contact_id", String(ID), index=True),
    Column("status", String(16), nullable=False),
    Column("state", String(255)),
    Column("data", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("ended_at", Float),
    # The conversation id while a top-level execution is active: one active execution per
    # contact and flow address. Subflow executions leave it NULL and point at their parent.
    Column("active_key", String(ID), unique=True),
    Column("parent_id", String(ID), index=True),
    # Bumped by every write: a step commits only over the revision it was computed from, so a
    # node stepping a cached copy that another node moved on fails instead of overwriting it.
    Column("revision", Integer, nullable=False, server_default=text("0")),
)

execution_steps = Table(
    "execution_steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("execution_id", String(ID), nullable=False, index=True),
    Column("seq", Integer, nullable=False),
    Column("from_state", String(255), nullable=False),
    Column("event", String(64), nullable=False),
    Column("to_state", String(255)),
    Column("at", Float, nullable=False),
    Column("outputs", JSON),
)

timers = Table(
    "timers",
    metadata,
    Column("id", String(160), primary_key=True),
    Column("execution_id", String(ID), nullable=False, index=True),
    Column("conversation_id", String(ID), nullable=False),
    Column("due_at", Float, nullable=False, index=True),
    Column("created_at", Float, nullable=False),
)

webchat_sessions = Table(
    "webchat_sessions",
    metadata,
    # sha256 of the session token: a leaked database does not leak live session tokens.
    Column("token_hash", String(64), primary_key=True),
    Column("visitor_id", String(ID), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("conversation_id", String(ID), nullable=False, index=True),
    Column("channel_account", String(255), nullable=False),
    Column("acked_seq", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
)
