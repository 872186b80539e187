"""Recognise key material so no message, log line or journal row ever repeats it.

A private key pasted where a path or a name belongs (``private_key_file = "-----BEGIN ..."``)
would otherwise come back verbatim in the error that says the "file" cannot be read. These
checks are pure string tests, usable from config validation, the CLI's error printer, the
log formatter and the journal's redaction alike.
"""

from __future__ import annotations

import re
from typing import Final

HIDDEN: Final = "<key material hidden>"

# PEM armour ("-----BEGIN RSA PRIVATE KEY-----"), with or without the dashes.
# Case-sensitive: prose such as "the private key file" is not armour.
_PEM: Final = re.compile(r"-{3,}\s*(BEGIN|END)\b|PRIVATE KEY-{3,}")
# A whole PEM block, for scrubbing: armour to armour (or to the end of the text).
_PEM_BLOCK: Final = re.compile(r"-{3,}\s*BEGIN\b.*?(-{3,}\s*END\b[^-]*-{3,}|\Z)", re.DOTALL)
# A base64 run as long as a PEM body line (64 chars) with mixed case and digits: key bodies
# are, hex digests and identifiers are not.
_B64_RUN: Final = re.compile(r"[A-Za-z0-9+/]{60,}={0,2}")


def _is_key_body(run: str) -> bool:
    return (
        any(c.isupper() for c in run)
        and any(c.islower() for c in run)
        and any(c.isdigit() for c in run)
    )


def looks_like_key_material(text: str) -> bool:
    """True if ``text`` holds PEM armour or a base64 run like a key's body."""
    if _PEM.search(text):
        return True
    return any(_is_key_body(m.group()) for m in _B64_RUN.finditer(text))


def scrub(text: str) -> str:
    """``text`` with every PEM block and key-like base64 run replaced by ``HIDDEN``."""
    if not looks_like_key_material(text):
        return text
    text = _PEM_BLOCK.sub(HIDDEN, text)
    text = _B64_RUN.sub(lambda m: HIDDEN if _is_key_body(m.group()) else m.group(), text)
    return _PEM.sub(HIDDEN, text)
