"""Tests for sync_pipeline.clients."""
