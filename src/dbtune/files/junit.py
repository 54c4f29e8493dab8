"""Text that a JUnit XML file can hold.

XML 1.0 allows tab, newline, carriage return and characters from U+0020 on (less surrogates and
two non-characters). A control character in a query name or an error message would otherwise
make the whole report unreadable to the CI system that collects it.
"""

from __future__ import annotations

import re

_XML_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` with every character XML 1.0 cannot hold shown as ``\\xNN``."""
    return _XML_INVALID.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
