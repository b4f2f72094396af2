"""A fast read of ordinary message bodies with orjson, taken only where its answer is the standard parser's.

The validator's parse (schemas.validation.parse_payload) is ``json.loads`` with a hook that refuses repeated keys;
the hook runs in Python for every object. orjson reads a body in a fraction of the time, but keeps the last of
repeated keys, reads integers beyond 64 bits as floats and refuses lone surrogates, so its answer is used only
where none of that can matter:

- the text has no backslash: no escape, so every string's characters are the text's own;
- no run of 19 digits: every integer fits in 64 bits, where orjson keeps it an int;
- orjson parses it, and writing the value back gives as many quotes as the text has: without escapes every
  quote of either text opens or closes a string, so a repeated key, whose first member the parse dropped,
  leaves fewer quotes (orjson writes no value deeper than 254 levels: such a body goes to the standard parser).

Anything else (and whatever orjson refuses) is left to the standard parser, which says what is wrong.
tests/schemas/test_fast_paths.py compares the two on arbitrary JSON-like texts.
"""

from __future__ import annotations

from typing import Any

import orjson

#: Every digit written as 0: a run of 19 digits is then a run of 19 zeros, which ``in`` finds at C speed (a
#: regular expression for it costs more than orjson's whole parse).
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)
_LONG_DIGITS = b"0" * 19


def loads_plain(body: bytes) -> tuple[bool, Any]:
    """``(True, value)`` with what ``json.loads`` gives for the UTF-8 ``body`` when it is plain (above) and repeats
    no key; ``(False, None)`` when the standard parser must decide."""
    if b"\\" in body or _LONG_DIGITS in body.translate(_DIGITS_AS_ZERO):
        return False, None
    try:
        value = orjson.loads(body)
        written = orjson.dumps(value)
    except orjson.JSONDecodeError:  # not JSON, NaN, 1e400, ... the standard parser says what is wrong
        return False, None
    except orjson.JSONEncodeError:  # nested deeper than orjson writes
        return False, None
    if written.count(b'"') != body.count(b'"'):  # a repeated key
        return False, None
    return True, value
