"""``python -m shared.cli``."""

import sys

from shared.cli.main import main

sys.exit(main())
