"""Reads for the GraphQL layer: how each field's data is fetched, by loader or by PostgreSQL-written JSON."""
