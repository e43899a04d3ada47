"""hybrid-vae-eval: IW-NLL <= ELBO on every model family; MI and active units on known posteriors."""

import json
import math

import pytest
import torch
from conftest import run_train

from fairseq_hybrid_vae.evaluate import active_units, cli_main, mutual_information


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
    # A mixture of N posteriors carries at most log N nats, whatever the posteriors.
    assert mutual_information(torch.randn(N, 50), torch.randn(N, 50)) <= math.log(N) + 1e-5


def test_active_units():
    mu = torch.zeros(100, 3)
    mu[:, 0] = torch.linspace(-1, 1, 100)  # varies: active
    mu[:, 1] = 0.05 * torch.linspace(-1, 1, 100)  # variance ~0.0008: inactive
    assert active_units(mu) == 1


@pytest.fixture(scope="module", params=["hybrid_vae_lstm", "lstm_vae", "window_lm_lstm"])
def trained(request, tiny_data, tmp_path_factory):
    save_dir = tmp_path_factory.mktemp(f"eval-{request.param}")
    run_train(tiny_data, str(save_dir), request.param,
              ["--max-update", "60", "--windows-per-epoch", "960", "--kl-anneal-updates", "0"])  # fmt: skip
    return request.param, str(save_dir / "checkpoint_last.pt")


def test_iw_nll_is_below_the_elbo(tiny_data, trained, tmp_path, capsys):
    arch, checkpoint = trained
    out = tmp_path / "results.json"
    cli_main([tiny_data, "--path", checkpoint, "--split", "valid", "--iw-samples", "40",
              "--iw-chunk", "20", "--diversity-samples", "10", "--json", str(out), "--cpu"])  # fmt: skip
    result = json.loads(out.read_text())
    nats = result["nats_per_sample"]
    # Jensen, exactly: log-mean-exp of the K weights >= their mean, the same samples.
    assert nats["iw_nll"] <= nats["elbo_same_samples"] + 1e-6
    assert nats["iw_nll"] <= nats["elbo"]
    assert result["units"] > 0 and result["diversity"]["of"] == 10
    if arch.startswith("window_lm"):  # no latent: the bound is the likelihood itself
        assert nats["kl"] == 0 and result["mutual_information_nats"] == 0
        assert nats["iw_nll"] == pytest.approx(nats["rec"], rel=1e-5)
    table = capsys.readouterr().out
    assert "| IW-NLL |" in table and "active units" in table
