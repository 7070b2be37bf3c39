"""``python -m hifihr.config FILE [--set k=v ...] [--out PATH]``: print (and save) the resolved config."""

import sys

from hifihr.config.files import main

sys.exit(main())
