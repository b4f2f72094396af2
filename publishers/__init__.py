"""Olist-style order event publisher: realistic orders, one full-snapshot event per change."""
