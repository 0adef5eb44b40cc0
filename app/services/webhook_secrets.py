"""Webhook signing secrets: random, shown once, stored encrypted (Fernet, AES-128-CBC + HMAC).

A signing secret cannot be hashed like an API key: the worker needs it to sign. It is encrypted
with WEBHOOK_SECRET_KEY, or, when that is not set (the embedded setup), with a key generated once
into WEBHOOK_SECRET_KEY_FILE (mode 0600). Losing that key makes the stored secrets unusable: the
endpoints then need new ones (delete and create them again).
"""

import base64
import os
import secrets
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from app.settings import Settings

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
SECRET_BYTES = 32


class SecretUnavailable(RuntimeError):
    """The stored secret cannot be decrypted with the configured key."""


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def encrypt(settings: Settings, secret: str) -> str:
    return _fernet(_key(settings)).encrypt(secret.encode()).decode()


def decrypt(settings: Settings, ciphertext: str) -> str:
    try:
        return _fernet(_key(settings)).decrypt(ciphertext.encode()).decode()
    except InvalidToken as error:
        raise SecretUnavailable("the webhook secret cannot be decrypted with the configured key") from error


@lru_cache(maxsize=8)
def _fernet(key: bytes) -> Fernet:
    return Fernet(key)


def _key(settings: Settings) -> bytes:
    if settings.webhook_secret_key is not None:
        return settings.webhook_secret_key.get_secret_value().encode()
    return _key_file(settings.webhook_secret_key_file)


@lru_cache(maxsize=8)
def _key_file(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: of several processes starting at once, one writes the key and all read it.
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "wb") as file:
                file.write(Fernet.generate_key())
    return path.read_bytes().strip()
