"""Registered criterions (fairseq's --user-dir does not auto-import this folder; __init__ does)."""

from . import hybrid_vae_elbo  # noqa: F401
