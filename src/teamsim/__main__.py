"""``python -m teamsim``: the same command line as the ``teamsim`` script."""

from teamsim.cli import main

if __name__ == "__main__":
    main()
