"""The read side: every query the GraphQL layer answers from the database.

DataLoaders (`loaders`), pages and counts (`ticket_pages`, `people`, `knowledge`), the few
whole views (`reports`, `wallboard`), and how each field's data is fetched, by loader or by
PostgreSQL-written JSON (`declarations`, `node_json`), live here as functions that return
records and plain data. Resolvers and schema types call them; none of them opens a connection
itself. Writes go through app.services, which own their transactions.
"""
