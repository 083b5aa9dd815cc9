"""Access tokens as Entra issues them: JWTs signed with RS256 by a key published as a JWKS.

The claims are those of Entra's app-only v1.0 access tokens (learn.microsoft.com/entra/
identity-platform/access-token-claims-reference): `aud` (the requested resource), `iss`
(`https://sts.windows.net/<tenant>/`), `iat`, `nbf`, `exp`, `appid` (the client ID), `appidacr`
(1 for a client secret), `idp`, `oid` (the service principal's object ID), `sub` (the same),
`tid`, `roles` (the app roles granted, when any), `uti` and `ver` "1.0". The signing key is made
when the emulator starts and lives only in memory, so tokens issued by an earlier run are refused,
as tokens signed by a rolled-over key are.
"""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ALGORITHM: Final = "RS256"
# Every token's first characters: the base64url of its header's first 21 bytes (PyJWT writes
# the header's keys sorted: alg, kid, typ), so that a test can look for any token in an output.
TOKEN_PREFIX: Final = base64.urlsafe_b64encode(b'{"alg":"RS256","kid":').decode()


def issuer(tenant_id: str) -> str:
    return f"https://sts.windows.net/{tenant_id}/"


class TokenSigner:
    """Signs access tokens for one tenant and checks them as a resource server would."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        self.key_id = base64.urlsafe_b64encode(secrets.token_bytes(15)).decode()
        self._jwk = {**public, "kid": self.key_id, "use": "sig", "alg": ALGORITHM}

    def jwks(self) -> dict[str, Any]:
        """The signing keys document (`jwks_uri` of the OIDC metadata)."""
        return {"keys": [dict(self._jwk)]}

    def issue(
        self,
        object_id: str,
        client_id: str,
        audience: str,
        lifetime: int,
        roles: tuple[str, ...] = (),
    ) -> tuple[str, int]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": issuer(self.tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "appid": client_id,
            "appidacr": "1",
            "idp": issuer(self.tenant_id),
            "oid": object_id,
            "sub": object_id,
            "tid": self.tenant_id,
            "uti": secrets.token_urlsafe(16),
            "ver": "1.0",
        }
        if roles:
            claims["roles"] = list(roles)
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.key_id})
        return token, claims["exp"]

    def claims(self, token: str, audiences: tuple[str, ...]) -> dict[str, Any] | None:
        """The claims of `token` if this signer signed it, it is current, it was issued by this
        tenant and its audience is one of `audiences` (compared without a trailing slash)."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=[ALGORITHM],
                issuer=issuer(self.tenant_id),
                options={"verify_aud": False, "require": ["exp", "aud", "iss"]},
            )
        except jwt.PyJWTError:
            return None
        wanted = {a.rstrip("/").lower() for a in audiences}
        if str(claims.get("aud", "")).rstrip("/").lower() not in wanted:
            return None
        return claims
