"""``python -m ecuscan``."""

from .cli import run

run()
