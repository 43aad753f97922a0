"""app users of unsigned apps: ``app:<user id>`` becomes ``app_unsigned:<app id>:<user id>``

Earlier releases gave every app user the identity ``app:<user id>``, signed or not, so an app
without a secret could claim a signed user's contact. Only unsigned apps made unverified ``app``
identities; each becomes one identity per app whose sessions used it (the app sessions name the
app), on the same contact, so returning users keep their contact and conversation. An unverified
``app`` identity no session names is left as it is. Nothing else changes, and no schema.

Revision ID: 0302_app_unsigned_identities
Revises: 0301_app
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0302_app_unsigned_identities"
down_revision = "0301_app"
branch_labels = None
depends_on = None

SIGNED = "app"
UNSIGNED = "app_unsigned"

identities = sa.table(
    "identities",
    sa.column("kind", sa.String),
    sa.column("value", sa.String),
    sa.column("contact_id", sa.String),
    sa.column("verified", sa.Boolean),
    sa.column("created_at", sa.Float),
)
app_sessions = sa.table(
    "app_sessions",
    sa.column("app_id", sa.String),
    sa.column("user_id", sa.String),
    sa.column("contact_id", sa.String),
)


def upgrade() -> None:
    bind = op.get_bind()
    unverified = bind.execute(
        sa.select(identities).where(identities.c.kind == SIGNED, identities.c.verified.is_(False))
    ).all()
    for identity in unverified:
        apps = bind.execute(
            sa.select(app_sessions.c.app_id)
            .where(
                app_sessions.c.user_id == identity.value,
                app_sessions.c.contact_id == identity.contact_id,
            )
            .distinct()
        ).scalars()
        scoped = [
            {
                "kind": UNSIGNED,
                "value": f"{app_id}:{identity.value}",
                "contact_id": identity.contact_id,
                "verified": False,
                "created_at": identity.created_at,
            }
            for app_id in sorted(apps)
        ]
        if not scoped:
            continue
        bind.execute(sa.insert(identities), scoped)
        bind.execute(
            sa.delete(identities).where(
                identities.c.kind == SIGNED, identities.c.value == identity.value
            )
        )


def downgrade() -> None:
    """Back to shared ``app:<user id>`` where no other contact holds it (the first app wins)."""
    bind = op.get_bind()
    scoped = bind.execute(sa.select(identities).where(identities.c.kind == UNSIGNED)).all()
    for identity in scoped:
        user_id = identity.value.split(":", 1)[1]
        taken = bind.execute(
            sa.select(identities.c.value).where(
                identities.c.kind == SIGNED, identities.c.value == user_id
            )
        ).first()
        if taken is None:
            bind.execute(
                sa.insert(identities).values(
                    kind=SIGNED,
                    value=user_id,
                    contact_id=identity.contact_id,
                    verified=False,
                    created_at=identity.created_at,
                )
            )
    bind.execute(sa.delete(identities).where(identities.c.kind == UNSIGNED))
