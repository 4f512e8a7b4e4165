"""API keys: creation, listing, revocation and verification against the operational DB.

A key is ``lh_`` + 32 random bytes (URL-safe base64). Only its SHA-256 is stored, next to a short prefix used
to find candidate rows; the hash is compared in constant time. Scopes: ``read``, ``write``, ``sql``, ``admin``
(``admin`` grants every scope).

A key may be bound: to one memory ``tenant`` (its memory, pathway and playbook routes answer only within that
tenant; in SQL it reads only that tenant's rows of ``memory.*``) and to lake ``namespaces`` (dataset namespaces and
collection namespaces: ingest, catalog, vector and SQL routes refuse anything outside them). See docs/security.md.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from pydantic import ConfigDict, Field

from lakehouse.errors import ApiKeyExists, ApiKeyNotFound, BadRequest, InvalidScope
from lakehouse.inputs import check_text
from lakehouse.opsdb.schema import api_keys
from lakehouse.tables.names import validate_identifier
from lakehouse.wire import Answer, WireModel

__all__ = [
    "SCOPES",
    "ApiKey",
    "ApiKeyStore",
    "CreateKey",
    "CreatedKey",
    "KeyAnswer",
    "check_tenant",
    "parse_namespaces",
    "parse_scopes",
]

SCOPES = ("read", "write", "sql", "admin")
KEY_PREFIX = "lh_"
_PREFIX_CHARS = 8
_TOUCH_EVERY = timedelta(seconds=60)


class ApiKey(Answer):
    """An API key's record. The secret itself is never stored."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    tenant: str | None = None  # bound to this memory tenant (None: any tenant)
    namespaces: tuple[str, ...] | None = None  # bound to these lake namespaces (None: every namespace)

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    @property
    def unbound(self) -> bool:
        """Bound to no tenant and no namespace."""
        return self.tenant is None and self.namespaces is None

    def reaches(self, namespace: str) -> bool:
        """Whether the key may use the lake namespace ``namespace``."""
        return self.namespaces is None or namespace in self.namespaces


class CreatedKey(Answer):
    """A freshly created key: ``secret`` is shown once and cannot be recovered later."""

    key: ApiKey
    secret: str = Field(description="The key itself: send it as `Authorization: Bearer <secret>`. Shown once.")


class KeyAnswer(Answer):
    key: ApiKey


class CreateKey(WireModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "agent-1", "scopes": ["read", "write"]}]})

    name: str = Field(min_length=1, max_length=200, description="Unique among active keys.")
    scopes: list[str] = Field(min_length=1, description=f"Some of: {', '.join(SCOPES)} (else 400 invalid_scope).")
    tenant: str | None = Field(
        None, min_length=1, max_length=200, description="Bind the key to this memory tenant (memory, pathways, SQL)."
    )
    namespaces: list[str] | None = Field(
        None, min_length=1, description="Bind the key to these lake namespaces (datasets, collections, SQL)."
    )


def parse_scopes(scopes: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Validate scopes (a comma-separated string or a list) into a sorted, de-duplicated tuple."""
    items = scopes.split(",") if isinstance(scopes, str) else list(scopes)
    cleaned = sorted({s.strip() for s in items if s.strip()})
    if not cleaned:
        raise InvalidScope("at least one scope is needed: " + ", ".join(SCOPES), field="scopes")
    unknown = [s for s in cleaned if s not in SCOPES]
    if unknown:
        raise InvalidScope(f"unknown scope {', '.join(unknown)}; expected some of {', '.join(SCOPES)}", field="scopes")
    return tuple(cleaned)


def parse_namespaces(namespaces: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    """Validate lake namespaces (comma-separated or a list) into a sorted tuple; None or empty: no binding."""
    if namespaces is None:
        return None
    items = namespaces.split(",") if isinstance(namespaces, str) else list(namespaces)
    cleaned = sorted({validate_identifier(str(n).strip(), "namespaces") for n in items if str(n).strip()})
    return tuple(cleaned) or None


def check_tenant(tenant: str | None) -> str | None:
    """A tenant a key may be bound to: 1-200 characters of valid text (None: no binding)."""
    if tenant is None:
        return None
    check_text(tenant, "tenant")
    if not tenant.strip() or len(tenant) > 200:
        raise BadRequest("tenant must be 1-200 characters", field="tenant")
    return tenant


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _row_to_key(row: sa.Row[tuple[object, ...]]) -> ApiKey:
    m = row._mapping
    created = m["created_at"]
    assert created is not None
    namespaces = m["namespaces"]
    return ApiKey(
        id=m["id"],
        name=m["name"],
        prefix=m["prefix"],
        scopes=tuple(str(m["scopes"]).split(",")),
        created_at=created,
        last_used_at=m["last_used_at"],
        revoked_at=m["revoked_at"],
        tenant=m["tenant"],
        namespaces=tuple(str(namespaces).split(",")) if namespaces else None,
    )


class ApiKeyStore:
    """API keys in the operational DB."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def create(
        self,
        name: str,
        scopes: str | list[str] | tuple[str, ...],
        *,
        tenant: str | None = None,
        namespaces: str | list[str] | tuple[str, ...] | None = None,
    ) -> CreatedKey:
        """A new key with ``scopes``, optionally bound to one memory ``tenant`` and to lake ``namespaces``."""
        check_text(name, "name")
        name = name.strip()
        if not name or len(name) > 200:
            raise BadRequest("key name must be 1-200 characters", field="name")
        parsed = parse_scopes(scopes)
        bound_tenant = check_tenant(tenant)
        bound_namespaces = parse_namespaces(namespaces)
        token = secrets.token_urlsafe(32)
        secret = KEY_PREFIX + token
        row = {
            "id": uuid.uuid4().hex,
            "name": name,
            "prefix": token[:_PREFIX_CHARS],
            "key_hash": _hash(secret),
            "scopes": ",".join(parsed),
            "tenant": bound_tenant,
            "namespaces": ",".join(bound_namespaces) if bound_namespaces else None,
            "created_at": datetime.now(UTC),
            "last_used_at": None,
            "revoked_at": None,
        }
        try:
            with self._engine.begin() as conn:
                conn.execute(api_keys.insert().values(**row))
        except sa.exc.IntegrityError as exc:
            raise ApiKeyExists(f"an active key named {name!r} exists; revoke it first", field="name") from exc
        return CreatedKey(key=self.get(name), secret=secret)

    def get(self, name: str) -> ApiKey:
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(api_keys).where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
            ).first()
        if row is None:
            raise ApiKeyNotFound(f"no active key named {name!r}", field="name")
        return _row_to_key(row)

    def list(self, include_revoked: bool = False) -> list[ApiKey]:
        query = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        with self._engine.connect() as conn:
            return [_row_to_key(r) for r in conn.execute(query)]

    def revoke(self, name: str) -> ApiKey:
        with self._engine.begin() as conn:
            result = conn.execute(
                api_keys.update()
                .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        if result.rowcount == 0:
            raise ApiKeyNotFound(f"no active key named {name!r}", field="name")
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(api_keys).where(api_keys.c.name == name).order_by(api_keys.c.revoked_at.desc())
            ).first()
        assert row is not None
        return _row_to_key(row)

    def verify(self, secret: str) -> ApiKey | None:
        """The active key whose secret this is, or None. Touches ``last_used_at`` at most once a minute."""
        if not secret.startswith(KEY_PREFIX) or len(secret) < len(KEY_PREFIX) + _PREFIX_CHARS:
            return None
        prefix = secret[len(KEY_PREFIX) : len(KEY_PREFIX) + _PREFIX_CHARS]
        digest = _hash(secret)
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(api_keys).where(api_keys.c.prefix == prefix, api_keys.c.revoked_at.is_(None))
            ).all()
        found = None
        for row in rows:
            if hmac.compare_digest(str(row._mapping["key_hash"]), digest):
                found = _row_to_key(row)
        if found is None:
            return None
        now = datetime.now(UTC)
        if found.last_used_at is None or now - found.last_used_at > _TOUCH_EVERY:
            with self._engine.begin() as conn:
                conn.execute(api_keys.update().where(api_keys.c.id == found.id).values(last_used_at=now))
        return found
