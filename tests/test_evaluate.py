"""hybrid-vae-eval: its bounds against an exact likelihood; MI and active units on known posteriors."""

import json
import math

import pytest
import torch
from conftest import run_train

from fairseq_hybrid_vae.cli.evaluate import (
    active_units,
    cli_main,
    evaluate,
    mutual_information,
    positional_hits,
)

pytestmark = pytest.mark.float_sensitive  # scripts/test.sh runs these again one instruction set down


def test_mutual_information_of_known_posteriors():
    torch.manual_seed(0)
    N, Z = 200, 2
    # Every x has the same posterior: z says nothing about x.
    same = mutual_information(torch.zeros(N, Z), torch.zeros(N, Z))
    assert abs(same) < 1e-5
    # Far-apart, narrow posteriors: z identifies x, so I(x; z) reaches log N.
    mu = torch.arange(N, dtype=torch.float).unsqueeze(1).repeat(1, Z) * 10
    separated = mutual_information(mu, torch.full((N, Z), -4.0))
    assert abs(separated - math.log(N)) < 1e-3


def test_positional_hits_count_units_repeated_at_their_position():
    pad = 1
    target = torch.tensor([[5, 6, 7, 2, pad], [5, 6, 7, 8, 2]])  # two samples, 4 and 5 units
    decoded = [torch.tensor([5, 9, 7, 2]),  # 3 of 4 (the second unit wrong)
               torch.tensor([6, 7, 8, 2])]  # shifted by one: 0 of 5
    assert positional_hits(decoded, target, pad) == (3, 9)
    assert positional_hits([torch.tensor([5, 6]), torch.tensor([5, 6, 7, 8, 2, 4])], target, pad) == (7, 9)


def test_active_units():
    mu = torch.zeros(100, 3)
    mu[:, 0] = torch.linspace(-1, 1, 100)  # varies: active
    mu[:, 1] = 0.05 * torch.linspace(-1, 1, 100)  # variance ~0.0008: inactive
    assert active_units(mu) == 1


@pytest.fixture(scope="module", params=["hybrid_vae_lstm", "lstm_vae", "window_lm_lstm"])
def trained(request, tiny_data, tmp_path_factory):
    save_dir = tmp_path_factory.mktemp(f"eval-{request.param}")
    run_train(tiny_data, str(save_dir), request.param,
              ["--max-update", "60", "--windows-per-epoch", "960", "--kl-anneal-updates", "0"])
    return request.param, str(save_dir / "checkpoint_last.pt")


def test_report_of_every_model(tiny_data, trained, tmp_path, capsys):
    arch, checkpoint = trained
    out = tmp_path / "results.json"
    cli_main([tiny_data, "--path", checkpoint, "--split", "valid", "--iw-samples", "40",
              "--iw-chunk", "20", "--diversity-samples", "10", "--json", str(out), "--cpu"])
    result = json.loads(out.read_text())
    assert result["units"] > 0 and result["diversity"]["of"] == 10
    if arch.startswith("window_lm"):  # no latent
        assert result["nats_per_sample"]["kl"] == 0 and result["mutual_information_nats"] == 0
        assert result["reconstruction"] is None
    else:
        assert result["reconstruction"]["non_blank_samples"] == result["samples"]
    table = capsys.readouterr().out
    assert "| IW-NLL |" in table and "active units" in table


def test_reconstruction_accuracy_is_the_greedy_decoding_of_the_posterior_mean(tiny_data, tmp_path):
    """evaluate's reconstruction accuracy against a greedy decoding written here: the whole model run
    once per position on its own argmax prefix, z the posterior mean (no generator, no incremental
    state), scored position by position against the target. The model is trained with the KL weight
    at its floor, so that its decoder reads z and another z would decode otherwise."""
    run_train(tiny_data, str(tmp_path), "hybrid_vae_lstm",
              ["--max-update", "80", "--windows-per-epoch", "960", "--kl-anneal-start", "1000"])
    checkpoint = str(tmp_path / "checkpoint_last.pt")
    with torch.no_grad():
        accuracy, greedy_accuracy = reconstruction_accuracies(checkpoint, tiny_data)
        beam_accuracy, its_decoding = reconstruction_accuracies(checkpoint, tiny_data, beam=3)
    assert accuracy == greedy_accuracy > 0
    assert beam_accuracy == its_decoding > 0  # --beam 3: the top hypothesis of a beam of 3


def reconstruction_accuracies(checkpoint: str, data: str, count: int = 12, beam: int = 1):
    """(evaluate's reconstruction accuracy, that of the greedy decoding below) on `count` windows; with a
    beam, that of fairseq's beam search from the posterior mean instead."""
    from fairseq import checkpoint_utils
    from fairseq.dataclass.configs import GenerationConfig

    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([checkpoint], arg_overrides={
        "data": data})
    model = models[0].eval()
    task.load_dataset("valid")
    dataset, pad = task.dataset("valid"), task.target_dictionary.pad()
    sample = dataset.collater([dataset[i] for i in range(count)])
    net_input, target = sample["net_input"], sample["target"]  # target: (N, L), windows without padding
    expected = evaluate(model, task, cfg, "valid", iw_samples=2, iw_chunk=2, batch_size=count,
                        max_samples=count, diversity_samples=0, beam=beam)["reconstruction"]["accuracy"]

    mu, _ = model.encoder.posterior(net_input["src_tokens"])
    if beam > 1:
        generator = task.build_generator(models, GenerationConfig(beam=beam))
        hypotheses = generator.generate(models, {"net_input": {**net_input, "z": mu}},
                                        bos_token=task.dictionary.bos())
        decoded = torch.stack([hypos[0]["tokens"][:-1] for hypos in hypotheses])  # (N, L): <s> dropped
        return expected, float(decoded.eq(target).sum()) / target.numel()
    encode = model.encoder.forward
    model.encoder.forward = lambda *args, **kwargs: {  # every forward decodes the posterior mean
        **encode(*args, **kwargs), "z": mu, "features": model.encoder.features(mu)}
    prefix = net_input["prev_output_tokens"].clone()  # (N, L); position 0 is the start token
    decoded = torch.full_like(target, pad)
    for t in range(target.size(1)):
        logits, _ = model(**{**net_input, "prev_output_tokens": prefix})  # (N, L, V)
        decoded[:, t] = logits[:, t].argmax(-1)  # a causal head: position t reads prefix[:, :t+1]
        if t + 1 < target.size(1):
            prefix[:, t + 1] = decoded[:, t]
    assert target.ne(pad).all()
    return expected, float(decoded.eq(target).sum()) / target.numel()


def exact_nll(model, task, split: str, count: int) -> float:
    """Teacher-forced -log p(x) per sample through the model's training forward, for a decoder that
    ignores z: the likelihood every bound must give back (computed apart from evaluate.py)."""
    dataset, pad = task.dataset(split), task.target_dictionary.pad()
    sample = dataset.collater([dataset[i] for i in range(count)])
    logits, _ = model(**sample["net_input"])  # (N, L, V)
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), sample["target"], ignore_index=pad,
                                            reduction="sum")
    return float(nll) / count


@torch.no_grad()
def test_bounds_of_a_decoder_that_ignores_z_against_its_exact_likelihood(tiny_data, trained):
    """p(x|z) = p(x) for every z: with q(z|x) = p(z) the IW bound, the ELBO and rec all equal the
    exact NLL; with a narrow q far from p(z) the ELBO is the NLL plus the closed-form KL and the IW
    bound lies between them."""
    from fairseq import checkpoint_utils

    arch, checkpoint = trained
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([checkpoint], arg_overrides={
        "data": tiny_data})
    model, Z, count = models[0].eval(), models[0].encoder.latent_dim, 24
    task.load_dataset("valid")
    encode = model.encoder.forward

    def encode_ignoring_z(*args, **kwargs):  # the decoder gets z = 0 whatever z was drawn or given
        out = encode(*args, **kwargs)
        zero = torch.zeros_like(out["z"])
        return {**out, "z": zero, "features": model.encoder.features(zero)}

    model.encoder.forward = encode_ignoring_z
    nll = exact_nll(model.float(), task, "valid", count)
    for mu, logvar in [(0.0, 0.0), (3.0, -4.0)] if Z else [(0.0, 0.0)]:
        model.encoder.posterior = lambda src, mu=mu, logvar=logvar: (
            torch.full((src.size(0), Z), mu), torch.full((src.size(0), Z), logvar))
        result = evaluate(model, task, cfg, "valid", iw_samples=20, iw_chunk=10, batch_size=8,
                          max_samples=count, diversity_samples=0)
        nats = result["nats_per_sample"]
        kl = 0.5 * Z * (math.exp(logvar) + mu**2 - 1 - logvar)
        assert nats["rec"] == pytest.approx(nll, rel=1e-5)
        assert nats["elbo"] == pytest.approx(nll + kl, rel=1e-5)
        if kl == 0:
            assert nats["iw_nll"] == pytest.approx(nll, rel=1e-5)
        else:
            assert nll < nats["iw_nll"] < nll + kl


def test_progress_is_logged_between_batches(tiny_data, trained, monkeypatch, caplog):
    """With the interval at 0 every batch after the first says how many samples are scored; at its
    default (30 s) a split of seconds says nothing."""
    import logging

    from fairseq import checkpoint_utils

    from fairseq_hybrid_vae.cli import evaluate as evaluate_module

    _, checkpoint = trained
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([checkpoint], arg_overrides={
        "data": tiny_data})
    caplog.set_level(logging.INFO, logger=evaluate_module.logger.name)
    arguments = dict(iw_samples=2, iw_chunk=2, batch_size=8, max_samples=20, diversity_samples=0)
    evaluate(models[0].eval(), task, cfg, "valid", **arguments)
    assert not [r for r in caplog.records if r.name == evaluate_module.logger.name]
    monkeypatch.setattr(evaluate_module, "PROGRESS_EVERY_S", 0.0)
    evaluate(models[0].eval(), task, cfg, "valid", **arguments)
    progress = [r.getMessage() for r in caplog.records if r.name == evaluate_module.logger.name]
    assert [line.split(" samples scored")[0] for line in progress] == ["valid: 8 of 20", "valid: 16 of 20"]
