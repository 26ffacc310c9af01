"""`python -m promoter …` (see promoter.cli)."""

import sys

from promoter.cli import main

if __name__ == "__main__":
    sys.exit(main())
