"""fairseq-hybrid-vae: the Hybrid Convolutional VAE for text (Semeniuta et al. 2017) as a fairseq plugin.

Importing it registers the task, models, criterion and optimizer and allowlists fairseq's checkpoint
types for torch's safe loader; nothing else (the root logger, which fairseq's import sets to DEBUG, is
left as it was). The model: tasks/, data/, models/, modules/, criterions/, optim/, scoring/; the Python API:
hub_interface.py; the commands: cli/; what the commands change in fairseq: fairseq_fixes/; shared
helpers: common/.
"""

from .common.compat import check_stack, logging_left_alone

check_stack()  # before anything imports fairseq or torch: one line if either is missing or unsupported

with logging_left_alone():  # fairseq's import would turn on every library's DEBUG lines
    from . import criterions, models, optim, scoring, tasks  # noqa: E402,F401  (each registers its components)
    from .fairseq_fixes.checkpoint_safety import allowlist_checkpoint_types  # noqa: E402
    from .hub_interface import HybridVAE, TextVAEHubInterface  # noqa: E402

allowlist_checkpoint_types()

__all__ = ["TextVAEHubInterface", "HybridVAE"]
