"""Text the Olist way."""

from __future__ import annotations

import unicodedata


def olist_city(name: str) -> str:
    """Olist writes cities lower case without accents: 'São Paulo' -> 'sao paulo'."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower().strip()
