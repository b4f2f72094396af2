"""Warehouses the pipeline writes to, behind one interface (see base.Warehouse)."""
