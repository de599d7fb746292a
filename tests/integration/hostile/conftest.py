"""Hostile-input suite: each case runs the CLI in a bounded child process (see runner.py)."""
