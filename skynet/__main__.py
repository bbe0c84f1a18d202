"""``python -m skynet`` runs the CLI."""

from skynet.cli import main

if __name__ == "__main__":
    main()
