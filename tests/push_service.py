"""A browser's push service, as the tests run it: a real HTTP server on loopback that takes a
Web Push request (201) and hands the encrypted body to the subscribed "browser", which decrypts
it with its private key; and the VAPID check a push service makes (RFC 8292)."""

from __future__ import annotations

import json
import os
import time

import http_ece
from builders import b64url, unb64url
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from http_receiver import Receiver


class PushEndpoint:
    """What a browser's push service does with a Web Push request: accept it (201) and hand
    the encrypted body to the subscribed browser, which decrypts it with its private key."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.auth = os.urandom(16)
        self.server = Receiver(status=201)
        self.subscription = {
            "endpoint": f"{self.server.url}/push/device-1",
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)},
        }

    @property
    def received(self) -> list[tuple[dict[str, str], bytes]]:
        return [(r.headers, r.body) for r in self.server.received if r.method == "POST"]

    def decrypt(self, body: bytes) -> dict:
        return json.loads(http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth))

    def close(self) -> None:
        self.server.close()


def verify_vapid(headers: dict[str, str], server_key_b64: str, audience: str) -> dict:
    """Check the VAPID JWT the way a push service does (RFC 8292)."""
    scheme, _, params = headers["authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(p.strip().split("=", 1) for p in params.split(","))
    assert fields["k"] == server_key_b64
    header_b64, claims_b64, signature_b64 = fields["t"].split(".")
    signature = unb64url(signature_b64)
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(fields["k"]))
    public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))  # raises if forged
    claims = json.loads(unb64url(claims_b64))
    assert claims["aud"] == audience and claims["exp"] > time.time()
    return claims
