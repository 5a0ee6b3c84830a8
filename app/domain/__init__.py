"""Pure business rules: no I/O, no database, no GraphQL; time is passed in."""
