"""Makes the protocol test kit (``_protocol_kit.py``, ``_thalex_schema.py``) importable."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
