"""``python -m shared.tools.cli``."""

import sys

from shared.tools.cli.main import main

sys.exit(main())
