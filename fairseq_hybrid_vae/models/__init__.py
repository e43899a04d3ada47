"""Registered models; fairseq's --user-dir also imports every file here."""

from . import hybrid_vae  # noqa: F401
