"""Every public docstring example runs and prints what it says."""

import doctest
import importlib
import pkgutil

import pytest

import funcgrad


def _modules():
    names = ["funcgrad"]
    for info in pkgutil.walk_packages(funcgrad.__path__, "funcgrad."):
        if not info.name.endswith("__main__") and info.name != "funcgrad.demo":
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} doctest failures in {name}"
