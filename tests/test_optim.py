"""`--optimizer torch_adam` makes the same updates as fairseq's adam, and resumes from its checkpoints."""

import pytest
from conftest import run_train

pytestmark = pytest.mark.float_sensitive  # scripts/test.sh runs these again one instruction set down

ARCH, UPDATES = "hybrid_vae_lstm", 8


def losses(stats) -> list:
    return [float(s["loss"]) for s in stats]


def train(data, save_dir, caplog, extra, updates=UPDATES):
    flags = ["--max-update", str(updates), "--weight-decay", "0.01", "--disable-validation"] + extra
    return run_train(data, str(save_dir), ARCH, flags, caplog)


@pytest.mark.parametrize("fused", [[], ["--adam-fused"]])
def test_torch_adam_follows_fairseq_adam(tiny_data, tmp_path, caplog, fused):
    reference = losses(train(tiny_data, tmp_path / "adam", caplog, []))
    ours = losses(train(tiny_data, tmp_path / "torch_adam", caplog, ["--optimizer", "torch_adam"] + fused))
    assert len(ours) == len(reference) == UPDATES
    assert reference[-1] < reference[0]  # the updates do something: the loss moves
    assert ours == pytest.approx(reference, rel=1e-4)


def test_torch_adam_resumes_like_an_uninterrupted_run(tiny_data, tmp_path, caplog):
    flags = ["--optimizer", "torch_adam", "--save-interval-updates", "4"]
    uninterrupted = losses(train(tiny_data, tmp_path / "whole", caplog, flags))
    save_dir = tmp_path / "resumed"
    first = train(tiny_data, save_dir, caplog, flags, updates=4)
    resumed = train(tiny_data, save_dir, caplog, flags)  # picks up checkpoint_last.pt (optimizer state too)
    assert [int(s["num_updates"]) for s in resumed] == list(range(5, UPDATES + 1))
    assert losses(first) + losses(resumed) == pytest.approx(uninterrupted, rel=1e-6)
