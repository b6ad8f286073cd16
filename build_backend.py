"""setuptools' build backend, without its "Editable installation" notice.

``pip install -e .`` of this layout (``migrations/`` and ``config/`` installed inside the
``authserver`` package) gets setuptools' import-finder strategy, which ends every editable
build with a ten-line boxed reminder about same-named folders: information, not a problem
(the checkout's ``authserver/`` *is* the package). Every real warning still shows.
"""

import warnings

from setuptools import build_meta
from setuptools.build_meta import *  # noqa: F403 (the PEP 517 hooks, unchanged)
from setuptools.warnings import InformationOnly

__all__ = build_meta.__all__

warnings.filterwarnings("ignore", message="Editable installation", category=InformationOnly)
