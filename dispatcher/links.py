"""Links that cannot be guessed: evidence images that expire, and notifications' receipts."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.orm import sessionmaker

from dispatcher.hashing import same_text
from dispatcher.screen import EVIDENCE_PATH


class SignedLinks:
    """URLs that cannot be guessed: evidence links that expire (an HMAC over the image name
    and the expiry time) and delivery-receipt links of notifications (an HMAC over the id).
    Dispatchers behind one load balancer share ``secret`` (config), else the one the first of
    them made and stored in the database (dispatcher/sharedstate.py)."""

    PATH = EVIDENCE_PATH

    def __init__(self, secret: str | None, sessions: sessionmaker, data_dir: Path, public_url: str,
                 ttl_s: int) -> None:
        if secret is None:
            from dispatcher.sharedstate import shared_secret

            secret = shared_secret(sessions, "link_secret", lambda: secrets.token_urlsafe(32), data_dir / "link_secret")
        self.key = secret.encode()
        self.public_url = public_url
        self.ttl_s = ttl_s

    def _sig(self, name: str, expires: int) -> str:
        return hmac.new(self.key, f"{name}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]

    def sign(self, url: str | None, at: float | None = None) -> str | None:
        """A signed link for a URL of an evidence store (this dispatcher's address, whatever
        host the URL named); None for any other URL (a file on the box): pages load no other."""
        if not url:
            return None
        path = urlsplit(url).path
        if not path.startswith(self.PATH) or "/" in path.removeprefix(self.PATH):
            return None
        name = path.removeprefix(self.PATH)
        expires = int((at or time.time()) + self.ttl_s)
        return f"{self.public_url}{self.PATH}{name}?exp={expires}&sig={self._sig(name, expires)}"

    def image(self, sha256: str, at: float | None = None) -> str | None:
        """A signed link to the evidence image named by its SHA-256."""
        return self.sign(f"{self.public_url}{self.PATH}{sha256}.jpg", at)

    def valid(self, name: str, expires: int, sig: str) -> bool:
        return expires > time.time() and same_text(sig, self._sig(name, expires))

    def receipt_url(self, notification_id: int) -> str:
        """Called back by the phone's service worker or the SMS gateway when a message arrives."""
        sig = self._sig(f"receipt/{notification_id}", 0)
        return f"{self.public_url}/api/v1/notifications/{notification_id}/receipt?sig={sig}"

    def receipt_valid(self, notification_id: int, sig: str) -> bool:
        return same_text(sig, self._sig(f"receipt/{notification_id}", 0))
