"""Benchmarks of sms-bridge: ``python -m bench``."""
