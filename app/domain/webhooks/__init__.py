"""Outbound webhooks: the rules of what is sent where, how it is signed and when it is retried."""
