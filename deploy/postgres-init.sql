-- The link store's own database beside Dagster's (deploy/compose.yaml runs this on first start).
CREATE DATABASE sync_state;
