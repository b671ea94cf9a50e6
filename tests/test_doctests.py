"""The examples in the core's docstrings are tests too."""
from __future__ import annotations

import doctest

import pytest

import engine.language.decide
import engine.language.logic


@pytest.mark.parametrize("module", [engine.language.logic, engine.language.decide], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
