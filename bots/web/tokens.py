"""Short-lived signed session tokens and host-signed identities.

A widget never holds a long-lived key: it asks ``POST /v1/session`` for a token that names a
random visitor session, the page origin it was issued to and an expiry, signed with
HMAC-SHA256. The server keeps no session table (one less thing to lose on restart or share
between replicas): whoever holds the secret can check a token, nobody else can make one.

A logged-in customer can be identified too: the host site computes
``hex(HMAC-SHA256(identity_secret, user_id))`` on its own server and puts it in the page with
the user id; a wrong hash is refused, so a visitor cannot claim someone else's id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

_CONTEXT = b"assistant-web-session.v1."


class TokenError(Exception):
    """Why a token was refused: ``code`` is ``invalid_token`` or ``expired_token``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Session:
    """What a valid token proves: the visitor session, its origin and (if verified) the user."""

    sid: str
    origin: str
    user_id: str | None
    started: int  # the session's first issue time: renewals keep it, so sessions cannot live forever
    expires: int

    @property
    def owner(self) -> str:
        """The key conversations are stored under: the verified user if any, else the session."""
        return f"user:{self.user_id}" if self.user_id else f"session:{self.sid}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionTokens:
    def __init__(self, secret: bytes, *, ttl_s: int, max_age_s: int,
                 clock: Callable[[], float] = time.time) -> None:
        if len(secret) < 16:
            raise ValueError("session secret too short")
        self._key = hashlib.sha256(_CONTEXT + secret).digest()
        self.ttl_s = ttl_s
        self.max_age_s = max_age_s
        self._clock = clock

    def issue(self, *, origin: str, user_id: str | None = None, renew: Session | None = None) -> tuple[str, Session]:
        """A new token; with ``renew`` it keeps that session (and its conversations) alive."""
        now = int(self._clock())
        if renew is not None and renew.started + self.max_age_s <= now + 60:
            renew = None  # at the end of its life: a fresh session rather than a token that is already dead
        if renew is not None:
            sid, started, user_id = renew.sid, renew.started, user_id or renew.user_id
        else:
            sid, started = secrets.token_urlsafe(18), now
        expires = min(now + self.ttl_s, started + self.max_age_s)
        session = Session(sid=sid, origin=origin, user_id=user_id, started=started, expires=expires)
        payload = {"v": 1, "sid": sid, "org": origin, "uid": user_id, "st": started, "exp": expires}
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{self._sign(body)}", session

    def verify(self, token: str, *, origin: str) -> Session:
        if not token.isascii():
            raise TokenError("invalid_token")
        body, _, signature = token.partition(".")
        if not body or not signature or not hmac.compare_digest(signature, self._sign(body)):
            raise TokenError("invalid_token")
        try:
            payload = json.loads(_unb64(body))
            session = Session(sid=str(payload["sid"]), origin=str(payload["org"]),
                              user_id=payload.get("uid"), started=int(payload["st"]), expires=int(payload["exp"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenError("invalid_token") from exc
        if session.origin != origin:  # a token lifted from one site does not work from another
            raise TokenError("invalid_token")
        if session.expires <= self._clock():
            raise TokenError("expired_token")
        return session

    def now(self) -> float:
        return self._clock()

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())


def identity_hash(identity_secret: bytes, user_id: str) -> str:
    """What the host site puts in ``data-user-hash``: hex HMAC-SHA256 of the user id."""
    return hmac.new(identity_secret, user_id.encode("utf-8"), hashlib.sha256).hexdigest()


def identity_matches(identity_secret: bytes, user_id: str, user_hash: str) -> bool:
    expected = identity_hash(identity_secret, user_id).encode("ascii")
    return hmac.compare_digest(expected, user_hash.strip().lower().encode("utf-8"))
