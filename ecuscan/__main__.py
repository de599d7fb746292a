"""``python -m ecuscan``."""

from .cli import main

main()
