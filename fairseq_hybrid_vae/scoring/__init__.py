"""Registered scorers; fairseq's --user-dir also imports every file here."""

from . import unscored  # noqa: F401
