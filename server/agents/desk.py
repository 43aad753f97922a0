"""What each agent frame does. ``DeskSession`` is one authenticated socket's view of the service.

Frames that act on a conversation need it to be the agent's (assigned or in wrap-up) unless the
sender is a supervisor; supervisor frames need the supervisor or admin role.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.websockets import WebSocket

from server.agents import protocol
from server.agents.auth import Identity
from server.agents.handoff import Handoff, status_frame
from server.agents.service import RoutingService
from server.model import Choice, ChoicesPart, MediaPart, Part, TextPart, media_kind_of_type
from server.routing import RoutingError
from server.routing import effects as rfx
from server.routing import events as ev
from server.store import agents as tables
from server.store.writes import record_event

Frame = dict[str, Any]


class DeskSession:
    def __init__(
        self, identity: Identity, socket: WebSocket, service: RoutingService, handoff: Handoff
    ) -> None:
        self.identity = identity
        self.socket = socket
        self.service = service
        self.handoff = handoff
        self.hub = handoff.hub
        self.by = f"{'supervisor' if identity.supervisor else 'agent'}:{identity.agent_id}"
        self._actions: dict[str, Callable[[Frame], Awaitable[list[Frame]]]] = {
            "ack": self.ack,
            "ping": self.ping,
            "set_availability": self.set_availability,
            "accept": self.accept,
            "reject": self.reject,
            "reply": self.reply,
            "note": self.note,
            "typing": self.typing,
            "read": self.read,
            "transfer": self.transfer,
            "wrapup": self.wrapup,
            "close": self.close,
            "monitor": self.monitor,
            "unmonitor": self.unmonitor,
            "reassign": self.reassign,
            "force_close": self.force_close,
            "stats": self.stats,
            "context": self.context,
        }

    @property
    def agent_id(self) -> str:
        return self.identity.agent_id

    async def handle(self, frame: Frame) -> list[Frame]:
        """Frames to answer on this socket (errors, pong, stats); sequenced ones go via the hub."""
        kind = frame["type"]
        if kind in protocol.SUPERVISOR_FRAMES and not self.identity.supervisor:
            return [protocol.error("forbidden", f"{kind} needs the supervisor role", kind)]
        action = self._actions.get(kind)
        if action is None:
            return [protocol.error("unexpected", f"{kind} is not expected now", kind)]
        try:
            return await action(frame)
        except RoutingError as exc:
            return [protocol.error("routing_error", str(exc), kind)]

    def _owns(self, conversation_id: str) -> bool:
        task = self.service.router.state.tasks.get(conversation_id)
        mine = task is not None and task.agent_id == self.agent_id
        return bool(mine and task and task.status in ("assigned", "wrapup"))

    def _not_yours(self, frame: Frame) -> list[Frame] | None:
        if self._owns(frame["conversation_id"]) or self.identity.supervisor:
            return None
        return [
            protocol.error(
                "not_assigned",
                f"conversation {frame['conversation_id']} is not assigned to you",
                frame["type"],
            )
        ]

    # --- delivery and presence ------------------------------------------------------------

    async def ack(self, frame: Frame) -> list[Frame]:
        await self.hub.acknowledge(self.agent_id, int(frame["seq"]))
        return []

    async def ping(self, frame: Frame) -> list[Frame]:
        return [protocol.out("pong")]

    async def set_availability(self, frame: Frame) -> list[Frame]:
        await self.service.handle(ev.SetAvailability(self.agent_id, frame["activity"], time.time()))
        return []

    # --- offers ---------------------------------------------------------------------------

    async def accept(self, frame: Frame) -> list[Frame]:
        await self.service.handle(
            ev.OfferAccepted(frame["conversation_id"], self.agent_id, time.time())
        )
        return []

    async def reject(self, frame: Frame) -> list[Frame]:
        event = ev.OfferRejected(
            frame["conversation_id"], self.agent_id, time.time(), frame.get("reason", "")
        )
        await self.service.handle(event)
        return []

    # --- conversation ---------------------------------------------------------------------

    async def reply(self, frame: Frame) -> list[Frame]:
        refused = self._not_yours(frame)
        if refused:
            return refused
        parts: list[Part] = []
        if frame.get("text"):
            parts.append(TextPart(frame["text"]))
        for item in frame.get("attachments") or []:
            parts.append(
                MediaPart(
                    url=item["url"],
                    content_type=item.get("content_type"),
                    filename=item.get("filename"),
                    # WhatsApp sends media by kind: an image goes as an image, not a document.
                    media_kind=media_kind_of_type(item.get("content_type")),
                )
            )
        if frame.get("choices"):
            choices = tuple(Choice(c["id"], c["label"]) for c in frame["choices"])
            parts.append(ChoicesPart(choices))
        if not parts:
            return [
                protocol.error(
                    "invalid_frame", "a reply needs text, choices or attachments", "reply"
                )
            ]
        names = self.service.notices.names if self.service.notices is not None else None
        message = await self.service.runtime.send_agent_message(
            frame["conversation_id"],
            self.agent_id,
            tuple(parts),
            author_name=await names.name(self.agent_id) if names is not None else None,
        )
        if message is None:
            return [protocol.error("not_found", "no such conversation", "reply")]
        await self.hub.send(
            self.agent_id, status_frame(frame["conversation_id"], message, frame.get("client_id"))
        )
        return []

    async def note(self, frame: Frame) -> list[Frame]:
        refused = self._not_yours(frame)
        if refused:
            return refused
        note = {"text": frame["text"], "by": self.by, "at": time.time()}
        await self._add_note(frame["conversation_id"], note, "conversation.note")
        added = protocol.out("note_added", conversation_id=frame["conversation_id"], note=note)
        await self.hub.tell_monitors(frame["conversation_id"], added)
        return [added]

    async def _add_note(self, conversation_id: str, note: dict[str, Any], kind: str) -> None:
        """Notes are history and context for the next agent, never a message to the customer."""
        conversation = await self.service.store.conversation(conversation_id)
        if conversation is None:
            return
        rt = tables.routing_tasks

        async def op(conn: AsyncConnection) -> None:
            row = (
                await conn.execute(
                    select(rt.c.notes).where(rt.c.conversation_id == conversation_id)
                )
            ).first()
            if row is not None:
                await conn.execute(
                    update(rt)
                    .where(rt.c.conversation_id == conversation_id)
                    .values(notes=[*row.notes, note])
                )
            await record_event(
                conn,
                contact_id=conversation["contact_id"],
                conversation_id=conversation_id,
                type=kind,
                channel=conversation["channel"],
                time=note["at"],
                properties=note,
            )

        await self.service.store.write(op)

    async def typing(self, frame: Frame) -> list[Frame]:
        cid, busy = frame["conversation_id"], frame.get("typing", True)
        typing = protocol.out("typing", conversation_id=cid, by=self.by, typing=busy)
        await self.hub.tell_monitors(cid, typing)
        # Only the agent on the conversation (or a supervisor) shows as typing to the customer.
        if self._owns(cid) or self.identity.supervisor:
            await self.handoff.links.agent_typing(cid, self.by, busy)
        return []

    async def read(self, frame: Frame) -> list[Frame]:
        refused = self._not_yours(frame)
        if refused:
            return refused
        note = {"by": self.by, "message_seq": frame["message_seq"], "at": time.time()}
        conversation = await self.service.store.conversation(frame["conversation_id"])
        if conversation is not None:
            await self.service.store.write(
                lambda conn: record_event(
                    conn,
                    contact_id=conversation["contact_id"],
                    conversation_id=conversation["id"],
                    type="conversation.read",
                    channel=conversation["channel"],
                    time=note["at"],
                    properties=note,
                )
            )
        await self.handoff.links.agent_read(frame["conversation_id"], self.by, frame["message_seq"])
        return []

    async def transfer(self, frame: Frame) -> list[Frame]:
        refused = self._not_yours(frame)
        if refused:
            return refused
        if bool(frame.get("to_agent")) == bool(frame.get("to_queue")):
            return [
                protocol.error(
                    "invalid_frame", "name exactly one of to_agent, to_queue", "transfer"
                )
            ]
        now = time.time()
        if frame.get("note"):
            note = {"text": frame["note"], "by": self.by, "at": now, "transfer": True}
            await self._add_note(frame["conversation_id"], note, "conversation.transfer_note")
        event = ev.Transfer(
            frame["conversation_id"],
            now,
            to_agent=frame.get("to_agent"),
            to_queue=frame.get("to_queue"),
            note=frame.get("note", ""),
            by=self.by,
        )
        return self._failures(await self.service.handle(event), "transfer")

    async def wrapup(self, frame: Frame) -> list[Frame]:
        refused = self._not_yours(frame)
        if refused:
            return refused
        event = ev.WrapUp(frame["conversation_id"], time.time(), frame.get("disposition", ""))
        await self.service.handle(event)
        return []

    async def close(self, frame: Frame) -> list[Frame]:
        refused = self._not_yours(frame)
        if refused:
            return refused
        event = ev.CloseTask(
            frame["conversation_id"], time.time(), frame.get("disposition", ""), self.by
        )
        await self.service.handle(event)
        return []

    async def context(self, frame: Frame) -> list[Frame]:
        """A conversation's live context, so a reloaded desk can rebuild what it shows."""
        cid = frame["conversation_id"]
        task = self.service.router.state.tasks.get(cid)
        if not self.identity.supervisor and (task is None or task.agent_id != self.agent_id):
            return [protocol.error("not_assigned", f"conversation {cid} is not yours", "context")]
        conversation = await self.service.store.conversation(cid)
        if conversation is None:
            return [protocol.error("not_found", "no such conversation", "context")]
        return [
            protocol.out(
                "context",
                conversation_id=cid,
                status=task.status if task is not None else conversation["status"],
                queue=task.queue if task is not None else conversation["queue"],
                agent_id=task.agent_id if task is not None else conversation["agent_id"],
                expires_at=task.offer_expires_at if task is not None else None,
                context=await self.service.context(cid),
            )
        ]

    # --- supervisors ----------------------------------------------------------------------

    async def monitor(self, frame: Frame) -> list[Frame]:
        self.hub.monitors.setdefault(frame["conversation_id"], set()).add(self.socket)
        return []

    async def unmonitor(self, frame: Frame) -> list[Frame]:
        self.hub.monitors.get(frame["conversation_id"], set()).discard(self.socket)
        return []

    async def reassign(self, frame: Frame) -> list[Frame]:
        event = ev.Reassign(frame["conversation_id"], frame["agent_id"], time.time(), self.by)
        return self._failures(await self.service.handle(event), "reassign")

    async def force_close(self, frame: Frame) -> list[Frame]:
        event = ev.CloseTask(
            frame["conversation_id"], time.time(), frame.get("disposition", ""), self.by
        )
        await self.service.handle(event)
        return []

    async def stats(self, frame: Frame) -> list[Frame]:
        return [self.service.stats()]

    @staticmethod
    def _failures(effects: list[rfx.RoutingEffect], kind: str) -> list[Frame]:
        return [
            protocol.error("transfer_failed", e.reason, kind)
            for e in effects
            if isinstance(e, rfx.TransferFailed)
        ]
