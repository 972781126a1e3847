"""Files, safely: a file is written whole or not at all, a results folder is never one that already holds
earlier results, and a JSON file that is missing or unreadable is an error that names it (and its flag)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


class OutputFolderError(OSError):
    """An output folder that cannot be created or written."""


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call `write(tmp)` on a temporary file beside `path`, then move it over `path`: a reader (or a crash)
    never sees half a file. The temporary name keeps `path`'s suffix for writers that add or check one."""
    path = Path(path)
    tmp = path.with_name(f"{path.stem}.tmp{path.suffix}")
    write(tmp)
    tmp.replace(path)
    return path


def fresh_output_dir(path: str | Path, create: bool = True) -> Path:
    """`path` if it is new or empty, else a new `<path>-<time>` beside it: earlier results are never
    overwritten or mixed with new ones. With `create`, makes it and checks that it can be written;
    without, only picks a name that does not exist yet, for a tool that creates the folder itself."""
    path = Path(path)
    if path.exists() and (not create or not path.is_dir() or any(path.iterdir())):
        stamp = time.strftime("%Y%m%d-%H%M%S")
        stamped, n = path.with_name(f"{path.name}-{stamp}"), 1
        while stamped.exists():
            stamped, n = path.with_name(f"{path.name}-{stamp}-{n}"), n + 1
        print(f"{path} already holds results: writing to {stamped} instead (nothing is overwritten)")
        path = stamped
    if not create:
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".rewact-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise OutputFolderError(
            f"--output_dir={path} cannot be written ({e.strerror}): choose a folder you can write."
        ) from e
    return path


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
