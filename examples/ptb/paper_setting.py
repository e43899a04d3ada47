"""The paper's PTB setting as fairseq-train flags, read from the plugin's
fairseq_hybrid_vae/config/hybrid_vae_lstm_ptb.yaml, the one place it is stated (hybrid-vae-hydra-train
reads that file directly; train.sh and reproduce.py read it through here).

    python examples/ptb/paper_setting.py [SECTION ...]     # prints the flags, one per line
"""

import os
import sys
from typing import List, Optional

from omegaconf import OmegaConf

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(REPO, "fairseq_hybrid_vae", "config", "hybrid_vae_lstm_ptb.yaml")
NAME_FLAGS = {"task": "--task", "model": "--arch", "criterion": "--criterion", "optimizer": "--optimizer",
              "lr_scheduler": "--lr-scheduler"}
TRAINING_SECTIONS = ["task", "model", "criterion", "dataset", "optimizer", "lr_scheduler", "optimization"]


def paper_flags(*sections: str, keys: Optional[List[str]] = None) -> List[str]:
    """fairseq-train flags for these sections of the config (all of TRAINING_SECTIONS by default),
    or for only these `keys` of them."""
    config = OmegaConf.to_container(OmegaConf.load(CONFIG), throw_on_missing=False)
    flags = []
    for section in sections or TRAINING_SECTIONS:
        for key, value in config[section].items():
            if value == "???" or (keys is not None and key not in keys):  # ???: given on the command line
                continue
            flag = NAME_FLAGS[section] if key == "_name" else "--" + key.replace("_", "-")
            if isinstance(value, bool):
                flags += [flag] if value else []
            else:
                flags += [flag, ",".join(map(str, value)) if isinstance(value, list) else str(value)]
    return flags


if __name__ == "__main__":
    print("\n".join(paper_flags(*sys.argv[1:])))
