"""`python -m promoter …` from a checkout (PYTHONPATH=lambda_src:.): the CLI in promoter.cli, not shipped
in the Lambda asset."""

import sys

from promoter.cli import main

if __name__ == "__main__":
    sys.exit(main())
