"""``python -m buyhive.devdb``: see :mod:`buyhive.devdb.cli`."""

from buyhive.devdb.cli import main

raise SystemExit(main())
