"""Secrets at rest (app.auth.secrets): Fernet with HELPDESK_SECRET_KEY, or a key generated once
into the data directory of an embedded installation."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app.auth.secrets import KEY_FILE, SecretKeyMissing, SecretUnreadable, secret_box
from app.settings import Settings


def test_a_configured_key_encrypts_and_decrypts() -> None:
    settings = Settings(secret_key=Fernet.generate_key().decode(), database_url="postgresql://db/helpdesk")
    box = secret_box(settings)
    token = box.encrypt("邮箱密码 imap-secret")
    assert "imap-secret" not in token
    assert secret_box(settings).decrypt(token) == "邮箱密码 imap-secret"


def test_embedded_installations_generate_one_key_and_keep_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=None, secret_key=None)
    token = secret_box(settings).encrypt("pw")
    key = (tmp_path / "data" / KEY_FILE).read_bytes()
    assert (tmp_path / "data" / KEY_FILE).stat().st_mode & 0o077 == 0  # readable by its owner only
    assert secret_box(settings).decrypt(token) == "pw"  # a second process reads the same key
    assert (tmp_path / "data" / KEY_FILE).read_bytes() == key
    assert [p.name for p in (tmp_path / "data").iterdir()] == [KEY_FILE]  # no temporary file left


def test_a_real_database_needs_a_configured_key(tmp_path: Path) -> None:
    with pytest.raises(SecretKeyMissing):
        secret_box(Settings(data_dir=tmp_path, database_url="postgresql://db/helpdesk", secret_key=None))
    assert not (tmp_path / KEY_FILE).exists()


def test_a_changed_key_is_a_clear_error_not_garbage() -> None:
    token = secret_box(Settings(secret_key=Fernet.generate_key().decode())).encrypt("pw")
    with pytest.raises(SecretUnreadable):
        secret_box(Settings(secret_key=Fernet.generate_key().decode())).decrypt(token)
