"""Load-generation tests: makes the protocol test kit (schema checks, keys) importable."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "protocol"))
