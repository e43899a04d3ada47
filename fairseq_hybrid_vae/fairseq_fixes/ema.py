"""fairseq's moving average of the weights (`--store-ema`) for models with BatchNorm.

fairseq 0.12's EMA decays every tensor of the state dict, BatchNorm's integer batch counters too, and
multiplying those by the decay fails at the first update ("result type Float can't be cast to the
desired output type Long"); it copies instead the keys it is given to skip. The plugin's conv encoder
and deconv decoder have BatchNorm.
"""

import torch
from fairseq.models.ema import EMA


def build_ema(model, cfg, device) -> EMA:
    """fairseq's build_ema, with the integer tensors (BatchNorm's num_batches_tracked) copied, not decayed."""
    integers = {key for key, tensor in model.state_dict().items() if not torch.is_floating_point(tensor)}
    return EMA(model, cfg, device, skip_keys=integers)
