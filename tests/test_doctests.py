"""Every worked example in a docstring of utils/ is run, so the examples a learner reads stay true."""
import doctest
import importlib
import pkgutil

import pytest

import utils

MODULES = sorted(m.name for m in pkgutil.walk_packages(utils.__path__, "utils."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
