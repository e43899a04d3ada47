"""Files that appear complete or not at all: written beside the destination, then renamed over it."""

import os
from contextlib import contextmanager
from typing import IO, Iterator


@contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """A temporary path to write; it becomes `path` when the block ends without an error."""
    partial = f"{path}.partial"
    try:
        yield partial
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


@contextmanager
def atomic_open(path: str, mode: str = "w", **kwargs) -> Iterator[IO]:
    """open(path, mode), but the file appears under its name only once it is closed complete."""
    with atomic_path(path) as partial:
        with open(partial, mode, **kwargs) as f:
            yield f
