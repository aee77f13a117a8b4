"""The budget planner against brute force over every combination."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from convzoo.decomposition.plan import Option, choose

options = st.lists(st.tuples(st.integers(1, 50), st.floats(0, 1)), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(layers=st.lists(options, min_size=1, max_size=4), limit=st.integers(1, 200),
       fixed=st.integers(0, 20))
def test_choose_meets_the_budget_and_is_near_optimal(layers: list, limit: int,
                                                     fixed: int) -> None:
    opts = [[Option(j, c, e) for j, (c, e) in enumerate(layer)] for layer in layers]
    picks = choose(opts, limit, fixed)
    feasible = [combo for combo in itertools.product(*[range(len(o)) for o in opts])
                if fixed + sum(o[j].cost for o, j in zip(opts, combo)) <= limit]
    if not feasible:
        assert picks is None
    else:
        assert picks is not None
        assert fixed + sum(o[j].cost for o, j in zip(opts, picks)) <= limit
        best = min(sum(o[j].error for o, j in zip(opts, combo)) for combo in feasible)
        got = sum(o[j].error for o, j in zip(opts, picks))
        # a Lagrangian sweep is exact on the convex hull; off it the greedy pass keeps it
        # within one layer's largest error of the optimum
        assert got <= best + max(max(e for _, e in layer) for layer in layers)


def test_choose_is_exact_on_a_convex_case() -> None:
    a = [Option("keep", 8, 0.0), Option("half", 4, 0.1), Option("quarter", 2, 0.4)]
    b = [Option("keep", 8, 0.0), Option("half", 4, 0.2), Option("quarter", 2, 0.5)]
    assert choose([a, b], limit=8) == [1, 1]
    assert choose([a, b], limit=6) == [1, 2]
    assert choose([a, b], limit=3) is None
