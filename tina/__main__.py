"""``python -m tina``: the ``tina`` command line."""

import sys

from tina.cli import main

sys.exit(main())
