"""TLS for the mail servers we connect to (IMAP fetching, SMTP sending): certificates and host
names are always verified; HELPDESK_MAIL_CA_FILE adds a private CA to the system's."""

from __future__ import annotations

import ssl

from app.settings import Settings


def mail_tls_context(settings: Settings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.mail_ca_file is not None:
        context.load_verify_locations(cafile=str(settings.mail_ca_file))
    return context
