"""Registered models; fairseq's --user-dir also imports every file here."""

from . import hybrid_vae, lstm_vae, window_lm  # noqa: F401
