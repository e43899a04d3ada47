"""`--optimizer torch_adam`: fairseq's Adam (AdamW weight decay) computed by torch.optim.AdamW.

Without apex fairseq's `adam` loops over the parameters in Python; torch's foreach or fused kernels
take less than half its host time per update on a GPU (docs/benchmarks.md). Same options and rule.
"""

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, List

import torch
from fairseq.dataclass import FairseqDataclass
from fairseq.optim import FairseqOptimizer, register_optimizer
from omegaconf import II, OmegaConf

from ..common.option_ranges import NON_NEGATIVE, POSITIVE, Range, check_options


@dataclass
class TorchAdamConfig(FairseqDataclass):
    adam_betas: Any = field(
        default=(0.9, 0.999),
        metadata={"range": Range(0, 1, high_open=True),
                  "help": "betas for Adam optimizer"}
    )
    adam_eps: float = field(default=1e-8, metadata={"range": POSITIVE, "help": "epsilon for Adam optimizer"})
    weight_decay: float = field(
        default=0.0,
        metadata={"range": NON_NEGATIVE,
                  "help": "decoupled (AdamW) weight decay, as fairseq's adam"}
    )
    adam_fused: bool = field(
        default=False,
        metadata={"help": "torch's fused kernel (one launch for all parameters) instead of its default "
                  "multi-tensor (foreach) one; results agree to rounding"},
    )
    lr: List[float] = II("optimization.lr")


@register_optimizer("torch_adam", dataclass=TorchAdamConfig)
class TorchAdam(FairseqOptimizer):
    """fairseq's `adam` with torch.optim.AdamW doing the arithmetic."""

    def __init__(self, cfg: TorchAdamConfig, params):
        super().__init__(cfg)
        check_options(cfg, TorchAdamConfig, adam_betas=self.optimizer_config["betas"])
        self._optimizer = torch.optim.AdamW(params, fused=cfg.adam_fused or None, **self.optimizer_config)

    @property
    def optimizer_config(self):
        """The options that override those stored in a checkpoint on resume (as fairseq's adam)."""
        lr, betas = self.cfg.lr, self.cfg.adam_betas
        return {
            "lr": lr[0] if isinstance(lr, Collection) else lr,
            "betas": tuple(eval(betas) if isinstance(betas, str) else OmegaConf.to_container(betas)),
            "eps": self.cfg.adam_eps,
            "weight_decay": self.cfg.weight_decay,
        }

    @property
    def supports_flat_params(self):  # --fp16 may hand it one flat fp32 tensor, as fairseq's adam
        return True
