"""``python -m dbtune``."""

import sys

from dbtune.cli import main

sys.exit(main())
