"""A private dovecot (IMAP) of one test module, on free TCP ports of 127.0.0.1.

Its own configuration, passwd-file users and Maildirs live in a temporary directory; the
machine's dovecot (and /etc/dovecot) is never used. `imap_port` speaks plain IMAP with STARTTLS,
`imaps_port` implicit TLS; both present a certificate for 127.0.0.1 and localhost signed by a
private CA made here (`ca_file`: trust it with Settings(mail_ca_file=...)).

Run as root, dovecot's helper processes use the Debian package's system users (dovecot,
dovenull) and mail is owned by `nobody`, as dovecot refuses mail access as root. Run as anyone
else, every process and every mail file belongs to the caller and nothing is chrooted.
"""

from __future__ import annotations

import contextlib
import datetime
import getpass
import grp
import imaplib
import ipaddress
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.domain.email.fetch_plan import TAKEN_KEYWORD
from tests.support import free_port

DOVECOT = os.environ.get("HELPDESK_TEST_DOVECOT", "/usr/sbin/dovecot")
START_TIMEOUT = 20.0


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key): a private CA and a server certificate
    it signed for 127.0.0.1 and localhost."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "helpdesk test mail CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(_key_pem(key))
    paths[2].chmod(0o600)
    return paths


@dataclass
class PrivateDovecot:
    base: Path
    imap_port: int
    imaps_port: int
    passwords: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def ca_file(self) -> Path:
        return self.base / "ca.pem"

    @property
    def config(self) -> Path:
        return self.base / "dovecot.conf"

    def _mail_owner(self) -> tuple[int, int]:
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            return nobody.pw_uid, nobody.pw_gid
        return os.getuid(), os.getgid()

    def write_config(self) -> None:
        make_certificates(self.base)
        uid, gid = self._mail_owner()
        mail = self.base / "mail"
        mail.mkdir(exist_ok=True)
        os.chown(mail, uid, gid)
        if os.geteuid() == 0:
            internal, login, chroot = "dovecot", "dovenull", ""
        else:
            internal = login = getpass.getuser()
            # Without root there is no chroot: the login and anvil processes run unconfined.
            chroot = "service imap-login {\n  chroot =\n}\nservice anvil {\n  chroot =\n}\n"
        self.config.write_text(
            f"""
base_dir = {self.base}/run
state_dir = {self.base}/state
instance_name = helpdesk-test-{self.imap_port}
log_path = {self.base}/dovecot.log
protocols = imap
listen = 127.0.0.1
default_internal_user = {internal}
default_internal_group = {_group_of(internal)}
default_login_user = {login}
ssl = yes
ssl_cert = <{self.base}/server.pem
ssl_key = <{self.base}/server.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.base}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
first_valid_uid = {min(uid, 500)}
first_valid_gid = 0
mail_location = maildir:~/Maildir
# Test mail is disposable: no fsync (APPEND and STORE would wait for the disk).
mail_fsync = never
namespace inbox {{
  inbox = yes
}}
imap_idle_notify_interval = 2 mins
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service stats {{
  unix_listener stats-reader {{
    user = {internal}
  }}
  unix_listener stats-writer {{
    user = {internal}
    mode = 0666
  }}
}}
{chroot}
"""
        )
        self.write_users()

    def write_users(self) -> None:
        """The passwd-file, re-read by dovecot when it sees it changed. Written whole to a new file
        and renamed over the old one (dovecot never reads half of it), with a modification time
        a second past the last one: dovecot compares times in whole seconds, so two changes within
        one second (a user added, a password changed) would otherwise go unseen."""
        passwd = self.base / "passwd"
        fresh = self.base / "passwd.new"
        fresh.write_text("".join(f"{user}:{{PLAIN}}{password}::::::\n" for user, password in self.passwords.items()))
        if os.geteuid() == 0:
            os.chown(fresh, 0, pwd.getpwnam("dovecot").pw_gid)
            fresh.chmod(0o640)
        self._users_stamp = max(int(time.time()), getattr(self, "_users_stamp", 0) + 1)
        os.utime(fresh, (self._users_stamp, self._users_stamp))
        os.replace(fresh, passwd)
        # Dovecot looks at the file at most once per second of its clock: a login in the second
        # it last looked would not see this change. Wait for the next second.
        time.sleep(1.02 - time.time() % 1)

    def add_user(self, user: str, password: str) -> None:
        self.passwords[user] = password
        self.write_users()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(self.base / "stderr.log", "ab"),  # noqa: SIM115
            start_new_session=True,  # its own process group: stop() ends the mail sessions too
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not (self._port_open(self.imap_port) and self._port_open(self.imaps_port)):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dovecot did not start:\n{self.log()}")
            time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM to dovecot and every process of its group: connections end at once, in the
        middle of whatever they were doing (the master alone lets running sessions finish).
        Waits until the ports are closed."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None
        deadline = time.monotonic() + START_TIMEOUT
        while self._port_open(self.imap_port) or self._port_open(self.imaps_port):
            if time.monotonic() > deadline:
                raise RuntimeError("dovecot's ports are still open after it stopped")
            time.sleep(0.02)

    def restart(self) -> None:
        self.stop()
        self.start()

    @staticmethod
    def _port_open(port: int) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
        return False

    def log(self) -> str:
        texts = []
        for name in ("dovecot.log", "stderr.log"):
            with contextlib.suppress(OSError):
                texts.append((self.base / name).read_text(errors="replace"))
        return "\n".join(texts)

    # The customer's side: what a mail client or an MTA does to the mailbox.

    @contextlib.contextmanager
    def client(self, user: str, folder: str = "INBOX") -> Iterator[imaplib.IMAP4]:
        imap = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=10)
        try:
            imap.login(user, self.passwords[user])
            imap.select(folder)
            yield imap
        finally:
            with contextlib.suppress(Exception):
                imap.logout()

    def deliver(self, user: str, messages: Sequence[bytes], folder: str = "INBOX") -> None:
        """APPENDs each message, unseen, as an MTA's delivery would leave it."""
        with self.client(user, folder) as imap:
            for raw in messages:
                status, detail = imap.append(folder, "", None, raw)  # type: ignore[arg-type]
                if status != "OK":
                    raise RuntimeError(f"APPEND failed: {detail!r}")

    def flags(self, user: str, folder: str = "INBOX") -> list[set[str]]:
        """Each message's flags, in order."""
        with self.client(user, folder) as imap:
            status, data = imap.fetch("1:*", "(FLAGS)")
            if status != "OK" or data == [None]:
                return []
            flags = [imaplib.ParseFlags(item) for item in data if isinstance(item, bytes)]
            return [{flag.decode() for flag in each} for each in flags]

    def unflag_all(self, user: str, folder: str = "INBOX") -> None:
        """As if the fetcher had crashed after ingesting and before flagging."""
        with self.client(user, folder) as imap:
            imap.store("1:*", "-FLAGS", f"(\\Seen {TAKEN_KEYWORD})")


def _group_of(user: str) -> str:
    return grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name


@contextlib.contextmanager
def private_dovecot(users: dict[str, str] | None = None) -> Iterator[PrivateDovecot]:
    """A running private dovecot with `users` (name: password); removed afterwards."""
    if not Path(DOVECOT).exists():
        raise RuntimeError(f"{DOVECOT} is not installed (apt-get install dovecot-imapd)")
    base = Path(tempfile.mkdtemp(prefix="helpdesk-dovecot-", dir="/tmp"))
    base.chmod(0o755)  # its login processes (another user when root) read certificates from here
    server = PrivateDovecot(base, free_port(), free_port(), dict(users or {}))
    try:
        server.write_config()
        server.start()
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop()
        shutil.rmtree(base, ignore_errors=True)
