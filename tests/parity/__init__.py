"""Parity: every fast path against the exact engine (and the backends against each other).

- test_matrix.py: rule x implementation x every bundled venue, on deterministic books;
- test_defects.py: the five defects that made the rulebook necessary, pinned;
- test_fast.py, test_montecarlo.py, test_sweep.py, test_stress.py: the older parity
  tests of each fast path (hypothesis portfolios, paths driven through the engine,
  plans through the exact replay), moved here.
"""
