"""fairseq-hybrid-vae: the Hybrid Convolutional VAE for text (Semeniuta et al. 2017) as a fairseq plugin.

Importing the package (fairseq's --user-dir, or `import fairseq_hybrid_vae`) registers the task,
models, criterion and optimizer, and puts the types fairseq checkpoints hold on torch's safe-loader
allowlist; it changes nothing else. The hybrid-vae-* commands (cli/) add the fixes of fairseq's
command-line behaviour (fairseq_fixes/) where they start. Python API: `TextVAEHubInterface`.

    tasks/, data/         the text_vae task: fixed-length character windows, or one sample per line
    models/, modules/     the assemblies (hybrid VAE, LSTM VAE, window LM) and their layers
    criterions/, optim/   the ELBO with the historyless term; Adam as torch implements it
    hub_interface.py      reconstruct, sample, interpolate, steer from Python
    cli/                  hybrid-vae-prepare, -eval, -latent, and fairseq's commands with the plugin
    fairseq_fixes/        what the commands change in fairseq's behaviour, each with its reason
    common/               errors, option ranges, atomic writes, the supported stack
"""

from .common.compat import check_stack

check_stack()  # before anything imports fairseq or torch: one line if either is missing or unsupported

from . import criterions, models, optim, tasks  # noqa: E402,F401  (each registers its components)
from .fairseq_fixes.checkpoint_safety import allowlist_checkpoint_types  # noqa: E402
from .hub_interface import HybridVAE, TextVAEHubInterface  # noqa: E402

allowlist_checkpoint_types()

__all__ = ["TextVAEHubInterface", "HybridVAE"]
