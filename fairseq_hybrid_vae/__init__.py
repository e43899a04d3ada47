"""fairseq-hybrid-vae: the Hybrid Convolutional VAE for text (Semeniuta et al. 2017) as a fairseq plugin.

Use it with `--user-dir path/to/fairseq_hybrid_vae` on any fairseq CLI.
"""

from . import (  # noqa: F401
    checkpoint_safety,  # noqa: F401  (first: allowlists what fairseq checkpoints hold)
    criterions,
    full_help,
    models,
    tasks,
)
