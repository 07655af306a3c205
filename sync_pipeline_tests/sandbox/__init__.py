"""Tests of the emulated CRMs (over real sockets)."""
