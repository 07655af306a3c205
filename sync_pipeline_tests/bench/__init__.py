"""`make bench`: the performance figures of DESIGN.md section 6, printed as `name: value` lines.

Run `python -m sync_pipeline_tests.bench --help` for the sizes. Every figure is measured in the
run that prints it (ratios compare two measurements taken in the same run); nothing is
hard-coded. Load tests talk only to 127.0.0.1 and stop by themselves.
"""
