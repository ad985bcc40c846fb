"""``python -m newsmirror``: the same as the ``newsmirror`` command."""

from .cli import main

main()
