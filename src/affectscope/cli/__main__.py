"""``python -m affectscope.cli``: the same as the ``affectscope`` command."""

import sys

from affectscope.cli import main

sys.exit(main())
