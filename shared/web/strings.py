"""String rules an API's schema states exactly as its validation applies them."""

from __future__ import annotations

NOT_BLANK = r"[^\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
"""At least one character that surrounding-whitespace stripping keeps: exactly the characters pydantic's
``strip_whitespace`` removes, spelt out. ``\\S`` would not do: in a JSON Schema (ECMAScript) it takes U+0085 for
a character, while the stripping removes it, so a schema-valid "\\u0085" was refused as empty."""
