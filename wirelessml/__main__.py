"""``python -m wirelessml`` runs the CLI."""

from wirelessml.cli.main import main

main()
