"""Makes the shared test kit (``_core_testkit.py``) importable from the core tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
