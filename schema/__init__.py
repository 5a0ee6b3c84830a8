"""Strawberry types, inputs, enums and scalars; field resolvers here only load data."""
