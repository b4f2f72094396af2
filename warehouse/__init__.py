"""The local warehouse (a DuckDB file): DDL from the shared table schemas, connections, reference data."""
