"""Reading the project's JSON files (labels, ground truth, lerobot-eval's eval_info) with one rule:
a missing or unreadable file is an error that names the file (and the flag it came from)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json(path: str | Path, error: type[Exception], missing: str, what: str = "") -> Any:
    """The JSON document in `path`; `error` with `missing` when there is no such file, and with the
    file's name and the parser's message when it is not JSON. `what` prefixes the path (a flag)."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{what}{path} {missing}")
    return parse_json(path.read_bytes(), path, error, what)


def parse_json(data: bytes, path: str | Path, error: type[Exception], what: str = "") -> Any:
    """`read_json` for bytes already read from `path` (so a caller's hash and the parsed content agree)."""
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise error(f"{what}{path} is not valid JSON ({e}).") from e
