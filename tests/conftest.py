"""Shared pytest plugins."""

pytest_plugins = ["tests.fixtures.aws", "tests.fixtures.sandbox"]
