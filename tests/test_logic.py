"""Kleene's three-valued truth tables for every connective, and their laws."""
from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from engine.language.logic import k_and, k_implies, k_not, k_or

T, F, U = True, False, None
truth = st.sampled_from([T, F, U])

# The full tables, written out by hand (not computed): rows are a, columns b.
AND = {(T, T): T, (T, F): F, (T, U): U, (F, T): F, (F, F): F, (F, U): F, (U, T): U, (U, F): F, (U, U): U}
OR = {(T, T): T, (T, F): T, (T, U): T, (F, T): T, (F, F): F, (F, U): U, (U, T): T, (U, F): U, (U, U): U}
IMPLIES = {(T, T): T, (T, F): F, (T, U): U, (F, T): T, (F, F): T, (F, U): T, (U, T): T, (U, F): U, (U, U): U}
NOT = {T: F, F: T, U: U}


def test_and_table():
    for (a, b), want in AND.items():
        assert k_and([a, b]) is want, (a, b)


def test_or_table():
    for (a, b), want in OR.items():
        assert k_or([a, b]) is want, (a, b)


def test_implies_table():
    for (a, b), want in IMPLIES.items():
        assert k_implies(a, b) is want, (a, b)


def test_not_table():
    for a, want in NOT.items():
        assert k_not(a) is want


def test_empty_connectives():
    assert k_and([]) is True
    assert k_or([]) is False


@given(st.lists(truth, max_size=6))
def test_nary_and_is_folded_binary_and(values):
    want = True
    for v in values:
        want = AND[(want, v)]
    assert k_and(values) is want


@given(st.lists(truth, max_size=6))
def test_nary_or_is_folded_binary_or(values):
    want = False
    for v in values:
        want = OR[(want, v)]
    assert k_or(values) is want


@given(truth, truth)
def test_de_morgan(a, b):
    assert k_not(k_and([a, b])) is k_or([k_not(a), k_not(b)])


def test_every_three_valued_combination_of_three():
    for a, b, c in itertools.product([T, F, U], repeat=3):
        assert k_and([a, b, c]) is AND[(AND[(a, b)], c)]
        assert k_or([a, b, c]) is OR[(OR[(a, b)], c)]
