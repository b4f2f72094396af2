"""ZetaSQL, loaded once per test session (its compiled module is cached per machine: see zetasql_catalog)."""

from __future__ import annotations

import pytest
from zetasql.core.local_service import ZetaSqlLocalService
from zetasql_catalog import local_service


@pytest.fixture(scope="session")
def zetasql() -> ZetaSqlLocalService:
    """Google's ZetaSQL analyzer: ~26 s the first time on a machine (compile), ~0.1 s once cached."""
    return local_service()
