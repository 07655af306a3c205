"""`make reliability`: the sync under faults, crashes, bad input, leaked secrets and races.

Each part is a function taking a size and a work folder and returning its figures; the fast
tests (`sync_pipeline_tests/test_reliability_fast.py`) run the same functions at small sizes.
"""
