"""Registered tasks; fairseq's --user-dir also imports every file here."""

from . import text_vae  # noqa: F401
