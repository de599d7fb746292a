"""Renderers for audit results: self-contained HTML, JSON, SARIF (terminal tables live in the CLI)."""
