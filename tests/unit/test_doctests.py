"""The examples in the core modules' docstrings run."""

import doctest

import pytest

import reidbench.errors
import reidbench.registry


@pytest.mark.parametrize("module", [reidbench.errors, reidbench.registry])
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
