"""fairseq-hybrid-vae: the Hybrid Convolutional VAE for text (Semeniuta et al. 2017) as a fairseq plugin.

Use it with `--user-dir path/to/fairseq_hybrid_vae` on any fairseq CLI, or from Python through
`TextVAEHubInterface.from_pretrained(...)`. Importing it registers the task, models, criterion and optimizer
and allowlists what fairseq checkpoints hold for torch's safe loader; a fairseq command that loads it
also gets the command-line patches of patches.py (one-line errors, atomic checkpoint copies, a full
--help).
"""

from . import criterions, models, optim, tasks  # noqa: F401  (each registers its components)
from .hub_interface import HybridVAE, TextVAEHubInterface
from .patches import allowlist_checkpoint_types, imported_by_a_fairseq_command, patch_for_the_command_line

allowlist_checkpoint_types()
if imported_by_a_fairseq_command():
    patch_for_the_command_line()

__all__ = ["TextVAEHubInterface", "HybridVAE"]
