"""Files that appear complete or not at all: written beside the destination, then renamed over it."""

import os
from contextlib import contextmanager, suppress
from typing import IO, Iterator, List, Optional


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


@contextmanager
def left_empty_removed_on_failure(paths: List[Optional[str]]) -> Iterator[None]:
    """Of `paths` (files before their folders), those that do not exist yet, and their folders that do
    not (`--save-dir runs/a` makes runs/ too), are removed if the block fails and leaves them empty;
    anything holding work is kept."""
    made_here = []
    for path in paths:
        while path and not os.path.exists(path) and path not in made_here:
            made_here.append(path)
            path = os.path.dirname(os.path.normpath(path))
    try:
        yield
    except BaseException:
        for path in made_here:
            with suppress(OSError):  # not empty (work in it), gone, or another rank's
                if os.path.isdir(path):
                    os.rmdir(path)
                elif os.path.getsize(path) == 0:
                    os.remove(path)
        raise
