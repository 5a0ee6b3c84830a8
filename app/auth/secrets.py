"""Secrets the helpdesk must read back (mailbox passwords), encrypted at rest with Fernet.

The key is HELPDESK_SECRET_KEY. With the embedded database (no DATABASE_URL) a key is generated
once into the data directory, next to the data it protects; against a real database the key
must be given, since several processes must share it and a key lost with a container would make
every stored password unreadable.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from app.settings import Settings

KEY_FILE = "secret.key"


class SecretKeyMissing(RuntimeError):
    """No HELPDESK_SECRET_KEY while a real database (DATABASE_URL) is configured."""


class SecretUnreadable(RuntimeError):
    """A stored secret that the configured key cannot decrypt (the key was changed)."""


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SecretUnreadable("a stored secret cannot be decrypted with HELPDESK_SECRET_KEY") from None


def secret_box(settings: Settings) -> SecretBox:
    """The box for the configured key (read or, embedded, created on first use)."""
    if settings.secret_key is not None:
        return SecretBox(settings.secret_key.get_secret_value().encode("ascii"))
    if settings.database_url:
        raise SecretKeyMissing("set HELPDESK_SECRET_KEY (a Fernet key) to store mailbox passwords")
    return SecretBox(_embedded_key(settings.data_dir))


def _embedded_key(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".secret-")
        with os.fdopen(fd, "wb") as out:
            out.write(Fernet.generate_key())
        # link() fails when the file exists: two processes starting at once keep one key, and
        # no reader ever sees a half-written file.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        os.unlink(tmp)
    return path.read_bytes().strip()
