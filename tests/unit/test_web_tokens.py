"""Widget session tokens: signed, short-lived, bound to one page origin; host-signed identities."""

from __future__ import annotations

import base64
import json

import pytest

from bots.web.tokens import SessionTokens, TokenError, identity_hash, identity_matches

ORIGIN = "https://help.ledgerly.example"
SECRET = b"unit-test-secret-0123456789"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def tokens(clock: Clock, *, ttl_s: int = 900, max_age_s: int = 86_400, secret: bytes = SECRET) -> SessionTokens:
    return SessionTokens(secret, ttl_s=ttl_s, max_age_s=max_age_s, clock=clock)


def test_issued_token_verifies_for_its_origin_and_names_the_session() -> None:
    clock = Clock()
    token, issued = tokens(clock).issue(origin=ORIGIN)
    session = tokens(clock).verify(token, origin=ORIGIN)
    assert session == issued
    assert session.owner == f"session:{session.sid}"
    assert session.expires == clock.now + 900


def test_token_expires_after_its_ttl() -> None:
    clock = Clock()
    token, _ = tokens(clock).issue(origin=ORIGIN)
    clock.now += 901
    with pytest.raises(TokenError) as err:
        tokens(clock).verify(token, origin=ORIGIN)
    assert err.value.code == "expired_token"


def test_token_from_another_origin_is_refused() -> None:
    token, _ = tokens(Clock()).issue(origin=ORIGIN)
    with pytest.raises(TokenError) as err:
        tokens(Clock()).verify(token, origin="https://evil.example")
    assert err.value.code == "invalid_token"


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
    lambda t: t.split(".")[0],  # signature dropped
    lambda t: "",
    lambda t: "not-a-token",
    lambda t: t + "é",  # non-ASCII from a Latin-1 decoded header
])
def test_tampered_tokens_are_refused(mangle) -> None:
    token, _ = tokens(Clock()).issue(origin=ORIGIN)
    with pytest.raises(TokenError) as err:
        tokens(Clock()).verify(mangle(token), origin=ORIGIN)
    assert err.value.code == "invalid_token"


def test_payload_edited_to_extend_expiry_is_refused() -> None:
    token, _ = tokens(Clock()).issue(origin=ORIGIN)
    body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["exp"] += 10**6
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode() + "." + signature
    with pytest.raises(TokenError):
        tokens(Clock()).verify(forged, origin=ORIGIN)


def test_token_signed_with_another_secret_is_refused() -> None:
    token, _ = tokens(Clock(), secret=b"some-other-secret-value-xyz").issue(origin=ORIGIN)
    with pytest.raises(TokenError):
        tokens(Clock()).verify(token, origin=ORIGIN)


def test_renewal_keeps_the_session_until_its_maximum_age() -> None:
    clock = Clock()
    signer = tokens(clock, ttl_s=600, max_age_s=1000)
    _, first = signer.issue(origin=ORIGIN)
    clock.now += 500
    _, renewed = signer.issue(origin=ORIGIN, renew=first)
    assert renewed.sid == first.sid
    assert renewed.expires == first.started + 1000  # capped by the maximum age, not now + ttl
    clock.now += 450  # 50 s before the end of its life: a renewal starts a new session instead
    _, fresh = signer.issue(origin=ORIGIN, renew=renewed)
    assert fresh.sid != first.sid


def test_identity_hash_is_hex_hmac_sha256_of_the_user_id() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"idsecret", b"user-42", hashlib.sha256).hexdigest()
    assert identity_hash(b"idsecret", "user-42") == expected
    assert identity_matches(b"idsecret", "user-42", expected.upper())
    assert not identity_matches(b"idsecret", "user-43", expected)
    assert not identity_matches(b"idsecret", "user-42", "ü" * 64)
