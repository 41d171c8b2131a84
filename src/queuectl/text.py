"""Text shapes shared by what checks user input (specs) and what shows it (output).

A module of its own so that a read, which only shows text, does not import the input
checks.
"""

from __future__ import annotations

import re

# Unicode's control characters (category Cc) are exactly these two ranges.
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL, C1
