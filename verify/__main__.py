"""`python -m verify …` is `sdde-verify …` (see `verify.cli`)."""

import sys

from verify.cli import main

if __name__ == "__main__":
    sys.exit(main())
