"""--lstm-cell: every cell trains, saves, reloads and decodes; checkpoints of version 0.1 (before the
option existed) load as the authors' cell and give the outputs that version computed."""

import os

import pytest
import torch
from conftest import run_generate, run_train
from fairseq import checkpoint_utils

import fairseq_hybrid_vae  # noqa: F401  (registers the plugin, wraps checkpoint loading)
from fairseq_hybrid_vae.modules import DEFAULT_LSTM_CELL, LSTM_CELLS
from fairseq_hybrid_vae.modules.lstm_cells import AuthorsLSTM

# Written by fairseq-train with version 0.1 of the plugin (5 updates on the tests' synthetic corpus);
# expected_outputs.pt holds what that version's models computed for fixed inputs and a fixed z.
OLD = os.path.join(os.path.dirname(__file__), "fixtures", "checkpoints_v0.1")
OLD_ARCHS = ["hybrid_vae_lstm", "lstm_vae", "window_lm_lstm"]


def lstm_layers(model):
    return [m for m in model.modules() if any(isinstance(m, cell) for cell in LSTM_CELLS.values())]


@pytest.mark.parametrize("arch", OLD_ARCHS)
def test_old_checkpoints_load_as_the_authors_cell_with_the_same_outputs(arch):
    models, cfg, _ = checkpoint_utils.load_model_ensemble_and_task(
        [os.path.join(OLD, f"{arch}.pt")], arg_overrides={"data": os.path.join(OLD, "data")}
    )
    model = models[0].eval()
    assert cfg.model.lstm_cell == "authors"
    assert lstm_layers(model) and all(isinstance(m, AuthorsLSTM) for m in lstm_layers(model))
    expected = torch.load(os.path.join(OLD, "expected_outputs.pt"))
    with torch.no_grad():
        mu = model.encoder(expected["tokens"], None)["mu"]
        encoder_out = model.encoder(expected["tokens"], None, z=expected[arch]["z"])
        logits, _ = model.decoder(expected["prev_output_tokens"], encoder_out=encoder_out)
    torch.testing.assert_close(mu, expected[arch]["mu"], atol=0, rtol=0)
    torch.testing.assert_close(logits, expected[arch]["logits"], atol=0, rtol=0)


def test_old_checkpoint_generates_with_fairseq_generate():
    lines = run_generate(os.path.join(OLD, "data"), os.path.join(OLD, "hybrid_vae_lstm.pt"),
                         ["--sample-size", "16", "--gen-subset", "valid", "--beam", "3"])
    assert sum(line.startswith("D-") for line in lines) > 0


@pytest.mark.parametrize("arch", ["hybrid_vae_lstm", "lstm_vae"])  # the head; the encoder and decoder
@pytest.mark.parametrize("cell", [cell for cell in LSTM_CELLS if cell != DEFAULT_LSTM_CELL])  # the
# default cell trains and generates in every other test
def test_every_cell_trains_saves_reloads_and_beam_decodes(tiny_data, tmp_path, caplog, arch, cell):
    save = str(tmp_path / "checkpoints")
    logs = run_train(tiny_data, save, arch, ["--lstm-cell", cell, "--max-update", "3",
                                             "--no-epoch-checkpoints"], caplog)
    assert len(logs) == 3
    checkpoint = os.path.join(save, "checkpoint_last.pt")
    models, cfg, _ = checkpoint_utils.load_model_ensemble_and_task([checkpoint])
    assert cfg.model.lstm_cell == cell
    assert all(isinstance(m, LSTM_CELLS[cell]) for m in lstm_layers(models[0]))
    # Beam search reorders the cached cell states at every step.
    lines = run_generate(tiny_data, checkpoint, ["--sample-size", "16", "--gen-subset", "valid",
                                                 "--beam", "3", "--max-sentences", "4"])
    assert sum(line.startswith("D-") for line in lines) > 0


def test_the_initialisation_belongs_to_the_cell(tiny_data, tmp_path):
    """The authors' cell: every weight and bias in U(-0.1, 0.1); the others: PyTorch's per-layer
    defaults (an LSTM's weights in U(-1/sqrt(H), 1/sqrt(H)), a Linear's in U(-1/sqrt(fan_in), ...))
    unless --init-scale is given."""
    from argparse import Namespace

    from fairseq import tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    def build(cell, *extra):
        torch.manual_seed(0)
        args = Namespace(**vars(parse(["--lstm-cell", cell, *extra])))
        cfg = convert_namespace_to_omegaconf(args)
        return tasks.setup_task(cfg.task).build_model(cfg.model)

    def parse(flags):
        from conftest import train_flags
        from fairseq import options

        flags = train_flags(tiny_data, str(tmp_path), "window_lm_lstm", flags)
        return options.parse_args_and_arch(options.get_training_parser(), flags)

    authors, torch_cell, scaled = build("authors"), build("torch"), build("torch", "--init-scale", "0.05")
    bound = 1 / 32**0.5  # 0.177: hidden size 32 in the tests' tiny models
    authors_recurrent = authors.decoder.layers[0].hidden_proj.weight
    assert all(p.abs().max() <= 0.1 for name, p in authors.named_parameters() if ".norm." not in name)
    assert authors_recurrent.abs().max() > 0.09 and authors_recurrent.std() > 0.05  # not PyTorch's
    recurrent = torch_cell.decoder.layers[0].lstm.weight_hh_l0
    assert 0.9 * bound < recurrent.abs().max() <= bound
    assert all(p.abs().max() <= 0.05 for p in scaled.parameters())  # no norm in the torch cell
