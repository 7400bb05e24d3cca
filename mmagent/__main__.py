"""``python -m mmagent``: the ``mmagent`` command (:func:`mmagent.cli.main`)."""

import sys

from mmagent.cli import main

sys.exit(main())
