"""What data-parallel training of these models needs beyond fairseq's own machinery."""

import torch
from fairseq.distributed import utils as distributed_utils


def average_batch_norm_statistics(model: torch.nn.Module) -> None:
    """BatchNorm running statistics averaged over data-parallel ranks after every update: neither DDP
    backend syncs buffers, so the checkpoint (rank 0's) would hold rank 0's statistics alone.
    """
    if not torch.distributed.is_initialized() or distributed_utils.get_data_parallel_world_size() == 1:
        return
    stats = [buffer for module in model.modules() if isinstance(module, torch.nn.modules.batchnorm._BatchNorm)
             for buffer in (module.running_mean, module.running_var) if buffer is not None]
    if not stats:
        return
    flat = torch.cat([buffer.detach().float().reshape(-1) for buffer in stats])  # (sum of C,)
    group = distributed_utils.get_data_parallel_group()
    distributed_utils.all_reduce(flat, group=group)
    flat /= distributed_utils.get_data_parallel_world_size()
    for buffer, value in zip(stats, flat.split([b.numel() for b in stats])):
        buffer.copy_(value.view_as(buffer))
