"""The sentiment word lists, read once per process from the package's data files."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from app.domain.sentiment import Lexicon


@lru_cache(maxsize=1)
def sentiment_lexicon() -> Lexicon:
    folder = files("app.domain.lexicons")
    return Lexicon.parse(
        folder.joinpath("en.txt").read_text(encoding="utf-8"), folder.joinpath("zh.txt").read_text(encoding="utf-8")
    )
