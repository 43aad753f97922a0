"""What the crash soak's customers sent and what came back, one entry per customer message.

Every customer message carries a token (``sms3-00012``) that the bot's and the agents' replies
quote, so a reply found at the fake Twilio, the fake Graph API or on a web chat socket is matched
to the message it answers. Entries are filled from the outside only: the webhook answers and
the web chat echo frames the customers saw (acknowledged), the replies the fakes and sockets
received (answered). What the server stored is read from its database at the end
(bench/soak.py).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

TOKEN = re.compile(r"\b((?:sms|wa|web)\d+-\d{5})\b")


def token_in(text: str | None) -> str | None:
    found = TOKEN.search(text or "")
    return found.group(1) if found else None


@dataclass
class Reply:
    """One reply that reached the customer: its provider or web chat message id and author."""

    reply_id: str
    author: str  # "bot" or "agent", from the reply's own words
    at: float


@dataclass
class Entry:
    token: str
    channel: str  # sms, whatsapp, webchat
    customer: str
    kind: str  # "plain", "agent" (asks for an agent) or "bye" (ends the agent's conversation)
    sent_at: float
    attempts: int = 0  # webhook requests or socket sends it took (retries after a kill)
    acknowledged_at: float | None = None
    replies: list[Reply] = field(default_factory=list)
    acknowledged: asyncio.Event = field(default_factory=asyncio.Event)
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)


def author_of(text: str) -> str:
    return "agent" if text.startswith("agent ") else "bot"


class Ledger:
    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        # Replies whose token no customer sent (must stay empty: a reply made up by the server).
        self.strays: list[tuple[str, str]] = []

    def new(self, token: str, channel: str, customer: str, kind: str) -> Entry:
        entry = Entry(token, channel, customer, kind, time.time())
        self.entries[token] = entry
        return entry

    def acknowledge(self, token: str) -> None:
        entry = self.entries.get(token)
        if entry is not None and entry.acknowledged_at is None:
            entry.acknowledged_at = time.time()
            entry.acknowledged.set()

    def reply(self, text: str, reply_id: str) -> None:
        """A reply reached the customer; the same ``reply_id`` seen again (a web chat replay)
        counts once."""
        token = token_in(text)
        entry = self.entries.get(token) if token else None
        if entry is None:
            self.strays.append((reply_id, text))
            return
        if any(r.reply_id == reply_id for r in entry.replies):
            return
        entry.replies.append(Reply(reply_id, author_of(text), time.time()))
        entry.answered.set()

    def close(self, token: str) -> None:
        """The agent closed the conversation that ``token`` (a "#bye") ended."""
        entry = self.entries.get(token)
        if entry is not None:
            entry.closed.set()

    def waiting(self) -> list[Entry]:
        """Acknowledged messages with no reply yet."""
        return [e for e in self.entries.values() if e.acknowledged_at and not e.replies]
