"""``python -m cli``: the ``gateway`` command."""

import sys

from cli.main import main

sys.exit(main())
