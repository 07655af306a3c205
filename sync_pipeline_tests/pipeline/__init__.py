"""End-to-end tests of the pipeline through Dagster against the sandbox."""
