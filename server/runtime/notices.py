"""Customer notices into the store and onto the desk, never into a flow.

A channel hands over a ``CustomerNotice`` (a deleted or edited message, a number change); it is
committed before the webhook is answered, like a message, and a message it changed is shown
again to the agents who have the conversation. No flow step and no agent turn follows.
"""

from __future__ import annotations

import logging
import time
from functools import partial

from channels.notices import CustomerNotice
from server.runtime.runtime import Runtime
from server.store.notices import NoticeApplied, apply_notice

log = logging.getLogger(__name__)


async def record_notice(runtime: Runtime, notice: CustomerNotice) -> NoticeApplied | None:
    """Store a notice; None when it names no customer (nobody to record it on)."""
    if not notice.identities:
        log.info("%s notice %.64s names no customer: ignored", notice.kind, notice.notice_id)
        return None
    operation = partial(apply_notice, notice=notice, now=time.time())
    with runtime.acknowledging():
        applied: NoticeApplied = await runtime.store.write_sync(operation, urgent=True)
    if not applied.duplicate and applied.message is not None and applied.conversation is not None:
        await runtime.show_revision(applied.conversation, applied.message)
    return applied
