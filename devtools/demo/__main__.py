"""`python -m devtools.demo`: see the package docstring."""

import sys

from devtools.demo.main import main

if __name__ == "__main__":
    sys.exit(main())
