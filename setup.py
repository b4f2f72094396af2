"""Stub so Dataflow's ``--setup_file ./setup.py`` can package this project for its workers.

All metadata lives in pyproject.toml.
"""

import setuptools

setuptools.setup()
