"""Extract snapshots and apply plans: drives the clients and the store, knows no Dagster."""
