"""Every module of the package imports: some (the analytics demo seeder, CLI helpers) run only
from commands no other test calls, so a renamed import would otherwise surface in production."""
import importlib
import pkgutil

import evently


def test_every_module_imports():
    names = [module.name for module in pkgutil.walk_packages(evently.__path__, "evently.")]

    assert "evently.analytics.demo" in names
    for name in names:
        importlib.import_module(name)
