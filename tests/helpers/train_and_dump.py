"""fairseq-train, plus a dump of each rank's model state next to every checkpoint it saves.

Only rank 0 writes checkpoints, so a test cannot otherwise see whether the ranks agree. Usage: the
fairseq-train command line; each rank writes SAVE_DIR/rank<R>.pt (parameters, buffers, num_updates) and
rank<R>-init.pt, the state before the first update. TEST_NO_LATENT_NOISE=1 trains with z = mu;
TEST_NAN_FROM_UPDATE=N makes the loss NaN from update N on; TEST_KILL_AT_UPDATE=N kills the process
(SIGKILL, as a lost node) when it starts update N.
"""

import os
import signal

import torch
from fairseq import checkpoint_utils
from fairseq.trainer import Trainer
from fairseq_cli import train

_save_checkpoint = checkpoint_utils.save_checkpoint


def save_checkpoint_and_dump(cfg, trainer, epoch_itr, val_loss):
    result = _save_checkpoint(cfg, trainer, epoch_itr, val_loss)
    state = {name: value.detach().clone() for name, value in trainer.get_model().state_dict().items()}
    path = os.path.join(cfg.save_dir, f"rank{trainer.data_parallel_rank}.pt")
    torch.save({"state": state, "num_updates": trainer.get_num_updates()}, path)
    return result


def train_step_after_dumping_the_initial_state(self, samples, raise_oom=False):
    if self.get_num_updates() + 1 == int(os.environ.get("TEST_KILL_AT_UPDATE") or 0):
        os.kill(os.getpid(), signal.SIGKILL)
    if self.get_num_updates() == 0 and not getattr(self, "_dumped_initial_state", False):
        self._dumped_initial_state = True
        state = {name: value.detach().clone() for name, value in self.get_model().state_dict().items()}
        torch.save({"state": state, "num_updates": 0},
                   os.path.join(self.cfg.checkpoint.save_dir, f"rank{self.data_parallel_rank}-init.pt"))
    return _train_step(self, samples, raise_oom)


checkpoint_utils.save_checkpoint = save_checkpoint_and_dump
if os.environ.get("TEST_NO_LATENT_NOISE"):  # z = mu: the one difference between 1 and 2 ranks removed
    from fairseq_hybrid_vae.models import text_vae_model

    text_vae_model.reparameterize = lambda mu, logvar: mu + 0 * logvar
_train_step = Trainer.train_step
Trainer.train_step = train_step_after_dumping_the_initial_state

if os.environ.get("TEST_NAN_FROM_UPDATE"):  # the loss becomes NaN from this update on
    from fairseq_hybrid_vae.criterions.hybrid_vae_elbo import HybridVAEElboCriterion

    _forward, _nan_from = HybridVAEElboCriterion.forward, int(os.environ["TEST_NAN_FROM_UPDATE"])

    def forward_turning_nan(self, model, sample, reduce=True):
        loss, sample_size, logging_output = _forward(self, model, sample, reduce)
        if getattr(model, "num_updates", 0) >= _nan_from:
            loss = loss * float("nan")
        return loss, sample_size, logging_output

    HybridVAEElboCriterion.forward = forward_turning_nan

if __name__ == "__main__":
    # This script imports the plugin before fairseq's parser does, so it applies what fairseq-train
    # would get from loading the plugin through --user-dir.
    from fairseq_hybrid_vae.fairseq_fixes.patches import patch_for_the_command_line

    patch_for_the_command_line()
    train.cli_main()
