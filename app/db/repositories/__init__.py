"""Read queries: each returns records, never ORM objects; batch loaders take many ids at once."""
