"""``python -m lab5_utils <command> ...``: see :mod:`lab5_utils.cli`."""

import sys

from lab5_utils.cli import main

if __name__ == "__main__":
    sys.exit(main())
