"""A local stand-in for a Cognito user pool: RS256 ID tokens, minted and verified.

The key pair lives in the state directory, so a token minted by ``gateway token`` is
accepted by a ``gateway dev`` using the same directory, and survives restarts.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from emulator.private_files import write_private

ISSUER = "https://cognito-idp.local.gateway/local-user-pool"
KEY_FILE = "jwt-signing-key.pem"
DEFAULT_TTL_S = 3600


class LocalIssuer:
    def __init__(
        self, private_key: rsa.RSAPrivateKey, clock: Callable[[], float] = time.time
    ) -> None:
        self._private_key = private_key
        self._public_key = private_key.public_key()
        self._clock = clock

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> LocalIssuer:
        """The issuer whose key is in ``state_dir``, creating the key on first use."""
        path = state_dir / KEY_FILE
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise ValueError(f"{path} does not hold an RSA key")
            return cls(key)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        # Never readable by others, not even between its creation and a chmod.
        write_private(
            path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        return cls(key)

    def mint(self, sub: str, groups: list[str], ttl_s: int = DEFAULT_TTL_S) -> str:
        """An ID token with Cognito's claims for ``sub``."""
        now = int(self._clock())
        claims = {
            "sub": sub,
            "cognito:groups": groups,
            "cognito:username": sub,
            "iss": ISSUER,
            "iat": now,
            "exp": now + ttl_s,
            "token_use": "id",
        }
        header = {"alg": "RS256", "typ": "JWT", "kid": "local"}
        signing_input = f"{_b64(json.dumps(header))}.{_b64(json.dumps(claims))}"
        signature = self._private_key.sign(
            signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        return f"{signing_input}.{_b64(signature)}"

    def verify(self, token: str) -> dict[str, Any] | None:
        """The token's claims if we signed it, it is an ID token and it has not expired."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = json.loads(_unb64(parts[0]))
            claims = json.loads(_unb64(parts[1]))
            signature = _unb64(parts[2])
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None
        if not isinstance(header, dict) or header.get("alg") != "RS256":
            return None  # never "none", never HS256 with the public key
        try:
            self._public_key.verify(
                signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            return None
        if not isinstance(claims, dict) or claims.get("iss") != ISSUER:
            return None
        if claims.get("token_use") != "id" or not isinstance(claims.get("sub"), str):
            return None
        expires = claims.get("exp")
        if not isinstance(expires, int) or expires <= self._clock():
            return None
        return claims


def _b64(value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
