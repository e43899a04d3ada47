"""Keep torch's safe checkpoint loader (weights_only=True) working for fairseq checkpoints.

torch >= 2.6 unpickles checkpoints with an allowlist of types. fairseq checkpoints hold a few plain
data classes beyond tensors; this allowlists exactly those, so loading a checkpoint can never run code.
"""

import argparse

import torch

# Checkpoints of current fairseq hold only containers, numbers and tensors; those written from a
# legacy argparse config (`args`) also hold an argparse.Namespace.
SAFE_CHECKPOINT_GLOBALS = [argparse.Namespace]

torch.serialization.add_safe_globals(SAFE_CHECKPOINT_GLOBALS)
