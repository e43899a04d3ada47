"""fairseq-train end to end, in-process, for every arch: the loss falls and the logs are complete."""

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import PACKAGE_DIR, dictionary_of, run_train

pytestmark = pytest.mark.float_sensitive  # scripts/test.sh runs these again one instruction set down

ARCHS = ["hybrid_vae_feedforward", "hybrid_vae_lstm", "hybrid_vae_bytenet"]


@pytest.mark.parametrize("arch", ARCHS)
def test_each_arch_trains_and_its_loss_falls(tiny_data, tmp_path, caplog, arch):
    stats = run_train(tiny_data, str(tmp_path), arch,
                      ["--max-update", "150", "--windows-per-epoch", "800", "--kl-anneal-start", "0",
                       "--kl-anneal-updates", "100"],
                      caplog)
    assert len(stats) == 150
    losses = np.array([float(s["loss"]) for s in stats])
    assert np.isfinite(losses).all()
    assert losses[-10:].mean() < 0.9 * losses[:10].mean(), losses
    logged = set(stats[-1])
    expected = {"loss", "elbo", "rec", "kl", "kl_nats", "kl_weight"}
    expected |= set() if arch == "hybrid_vae_feedforward" else {"aux"}
    assert expected <= logged
    # The KL weight follows the update number: linear from the floor to 1 over 100 updates. The
    # stats of update u (1-based) were computed with the weight of u - 1 completed updates.
    kl_weights = [float(s["kl_weight"]) for s in stats]
    assert kl_weights[0] == pytest.approx(0.001, abs=1e-4)
    assert kl_weights[20] == pytest.approx(0.001 + 0.999 * 20 / 100, abs=1e-3)
    assert kl_weights[-1] == 1.0
    assert (tmp_path / "checkpoint_best.pt").exists() and (tmp_path / "checkpoint_last.pt").exists()
    assert not [r for r in caplog.records if "before the KL weight reaches 1" in r.getMessage()]
    run_train(tiny_data, str(tmp_path / "short"), arch, ["--max-update", "1"], caplog)  # default annealing
    assert [r.levelname for r in caplog.records if "before the KL weight reaches 1" in r.getMessage()] == [
        "WARNING"]


def test_an_epoch_is_windows_per_epoch_random_windows(tiny_data, tmp_path, caplog):
    """fairseq-train draws --windows-per-epoch windows per epoch (160 in batches of 16: 10 updates), not
    the consecutive windows (847 here) that validation and fairseq-generate read of a split."""
    stats = run_train(tiny_data, str(tmp_path), "hybrid_vae_feedforward", ["--max-epoch", "2"], caplog)
    assert [int(s["epoch"]) for s in stats] == [1] * 10 + [2] * 10


def test_fairseq_train_through_the_fused_lstm_pass_logs_autograds_losses(tiny_data, tmp_path, caplog,
                                                                         monkeypatch):
    """The default cell's fused training pass (compiled kernels) through fairseq-train: the same
    per-update losses and gradient norms as the pass under autograd, to float32's rounding."""
    runs = {}
    for compile_on in ("1", "0"):
        monkeypatch.setenv("HYBRID_VAE_COMPILE", compile_on)
        stats = run_train(tiny_data, str(tmp_path / compile_on), "hybrid_vae_lstm",
                          ["--max-update", "20", "--lstm-cell", "layernorm"], caplog)
        runs[compile_on] = np.array([[float(s["loss"]), float(s["gnorm"])] for s in stats])
    assert runs["1"].shape == (20, 2)
    np.testing.assert_allclose(runs["1"], runs["0"], rtol=1e-4)


@pytest.mark.parametrize("line_padding", ["pad", "eos"])
def test_line_mode_and_bytenet_dilations_train(tiny_data, tmp_path, caplog, line_padding):
    stats = run_train(tiny_data, str(tmp_path), "hybrid_vae_bytenet",
                      ["--max-update", "150", "--windows-per-epoch", "800", "--sample-mode", "line",
                       "--sample-size", "32", "--head-dilations", "1,2,4",
                       "--line-padding", line_padding], caplog)
    losses = np.array([float(s["loss"]) for s in stats])
    assert losses[-10:].mean() < 0.9 * losses[:10].mean(), losses
    units_per_batch = float(stats[0]["wpb"])  # 16 lines of at most 32 units
    if line_padding == "eos":
        assert units_per_batch == 16 * 32  # every position scored, as the paper's tweet numbers
    else:
        assert units_per_batch < 16 * 28  # only the lines and their EOS: ~23 of the 32 units


def test_sample_size_not_divisible_is_a_clear_error(tiny_data, tmp_path, caplog):
    with pytest.raises(ValueError, match=r"--sample-size 18 is not divisible by 2\^2 = 4.*16 or 20"):
        run_train(tiny_data, str(tmp_path), "hybrid_vae_lstm",
                  ["--max-update", "1", "--sample-size", "18"], caplog)


def test_paper_size_parameter_count():
    """The PTB LSTM hybrid at L=60: the authors' code has 2,422,870 parameters."""
    from fairseq_hybrid_vae.models import build_arch
    from fairseq_hybrid_vae.models.text_vae_model import count_parameters

    dictionary = dictionary_of(53)  # PTB: 50 characters (the newline is fairseq's EOS) + <s> <pad> <unk>
    model = build_arch("hybrid_vae_lstm_ptb", dictionary, sample_size=60, lstm_cell="authors")  # paper's cell
    # The authors' 51 classes -> our 53 types: 2 more input channels of conv1 (3·128 weights each),
    # 2 more outputs of the aux head (200 + 1 each) and of the LSTM's output layer (500 + 1 each).
    two_extra_classes = 2 * 3 * 128 + 2 * 201 + 2 * 501
    assert count_parameters(model) == 2_422_870 + two_extra_classes


def test_help_lists_every_option():
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "hybrid-vae-train"), "--user-dir", PACKAGE_DIR,
         "--task", "text_vae", "--arch", "hybrid_vae_bytenet", "--criterion", "hybrid_vae_elbo", "--help"],
        capture_output=True, text=True, check=True,
    )
    text = " ".join(result.stdout.split())
    for option in ["--sample-size", "--sample-mode", "--windows-per-epoch", "--long-lines", "--line-padding",
                   "--latent-dim", "--encoder-channels", "--decoder-feature-dim",
                   "--decoder-embed-dim", "--lstm-hidden-size", "--head-layers", "--head-dilations",
                   "--head-channels", "--init-scale", "--alpha", "--kl-weight-floor",
                   "--kl-anneal-start", "--kl-anneal-updates", "--free-bits"]:
        assert option in text, option
    assert "receptive field N+1 units" in text


@pytest.mark.parametrize("head", ["none", "lstm", "bytenet"])
def test_model_runs_in_bfloat16(head):
    """--bf16/--fp16 convert the model: one-hot inputs must follow the weights' dtype."""
    from types import SimpleNamespace

    import torch
    from fairseq.data import Dictionary

    from fairseq_hybrid_vae.models.hybrid_vae import HybridVAEConfig, HybridVAEModel

    dictionary = Dictionary()
    for c in "abcdef":
        dictionary.add_symbol(c)
    cfg = HybridVAEConfig(sample_size=8, decoder_head=head, latent_dim=4, encoder_channels=[8, 8],
                          decoder_feature_dim=8, lstm_hidden_size=8, head_channels=8)
    model = HybridVAEModel.build_model(cfg, SimpleNamespace(target_dictionary=dictionary))
    model = model.to(torch.bfloat16)
    tokens = torch.randint(4, len(dictionary), (3, 8))
    logits, extra = model(tokens, None, tokens)
    assert logits.dtype == torch.bfloat16 and logits.shape == (3, 8, len(dictionary))


def test_history_and_head_dropout_reach_the_model_from_the_command_line(tiny_data, tmp_path, caplog):
    from fairseq_hybrid_vae.fairseq_fixes.checkpoint_safety import load_checkpoint_to_cpu

    run_train(tiny_data, str(tmp_path), "hybrid_vae_bytenet",
              ["--max-update", "3", "--windows-per-epoch", "800", "--input-dropout", "0.3",
               "--head-dropout", "0.1"], caplog)
    model_cfg = load_checkpoint_to_cpu(str(tmp_path / "checkpoint_last.pt"))["cfg"]["model"]
    assert (model_cfg.input_dropout, model_cfg.head_dropout) == (0.3, 0.1)
