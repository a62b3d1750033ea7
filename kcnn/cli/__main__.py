"""``python -m kcnn.cli``: the ``kcnn`` command."""

import sys

from kcnn.cli import main

sys.exit(main())
