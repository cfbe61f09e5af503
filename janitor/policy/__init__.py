"""Retention policies: parse and validate YAML, then decide per run."""
