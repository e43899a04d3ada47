"""fairseq-hybrid-vae: the Hybrid Convolutional VAE for text (Semeniuta et al. 2017) as a fairseq plugin.

Use it with `--user-dir path/to/fairseq_hybrid_vae` on any fairseq CLI, or from Python through
`HybridVAE.from_pretrained(...)`. Importing it registers the task, models and criterion, allowlists
what fairseq checkpoints hold for torch's safe loader, makes `--help` list the plugin's options, and
shows errors a user can fix as one line (errors.py).
"""

from . import checkpoint_safety, criterions, errors, full_help, models, optim, tasks  # noqa: F401
from .hub_interface import HybridVAE

__all__ = ["HybridVAE"]
