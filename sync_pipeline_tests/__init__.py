"""Tests for sync_pipeline."""
