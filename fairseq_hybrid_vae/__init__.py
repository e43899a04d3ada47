"""fairseq-hybrid-vae: the Hybrid Convolutional VAE for text (Semeniuta et al. 2017) as a fairseq plugin.

Use it through hybrid-vae-train / -generate / -validate / -hydra-train (fairseq's commands with the
plugin loaded), with `--user-dir "$(hybrid-vae-user-dir)"` on any fairseq command, or from Python through
`TextVAEHubInterface.from_pretrained(...)`. Importing it registers the task, models, criterion and optimizer
and allowlists what fairseq checkpoints hold for torch's safe loader; a fairseq command that loads it
also gets the command-line patches of patches.py (one-line errors, atomic checkpoint copies, a full
--help).
"""

from .compat import check_stack

check_stack()  # before anything imports fairseq or torch: one line if either is missing or unsupported

from . import criterions, models, optim, tasks  # noqa: E402,F401  (each registers its components)
from .hub_interface import HybridVAE, TextVAEHubInterface  # noqa: E402
from .patches import (  # noqa: E402
    allowlist_checkpoint_types,
    imported_by_a_fairseq_command,
    patch_for_the_command_line,
)

allowlist_checkpoint_types()
if imported_by_a_fairseq_command():
    patch_for_the_command_line()

__all__ = ["TextVAEHubInterface", "HybridVAE"]
