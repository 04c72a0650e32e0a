"""The dashboard page's files (``index.html`` and ``static/``), served by ``torus.dashboard``."""
