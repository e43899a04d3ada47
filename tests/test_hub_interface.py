"""The Python API: strings in, strings out, consistent with itself and with fairseq-generate."""

import os

import pytest
import torch
from conftest import run_train

from fairseq_hybrid_vae import TextVAEHubInterface

pytestmark = pytest.mark.float_sensitive  # scripts/test.sh runs these again one instruction set down


@pytest.fixture(scope="module", params=["hybrid_vae_lstm", "lstm_vae", "window_lm_bytenet"])
def vae(request, tiny_data, tmp_path_factory):
    save_dir = tmp_path_factory.mktemp(request.param)
    run_train(tiny_data, str(save_dir), request.param,
              ["--max-update", "60", "--windows-per-epoch", "960", "--kl-anneal-updates", "0"])
    return TextVAEHubInterface.from_pretrained(str(save_dir), "checkpoint_last.pt",
                                               data_name_or_path=tiny_data)


@torch.no_grad()
def greedy_by_hand(vae, z: torch.Tensor):
    """Greedy decoding of z without fairseq's generator or incremental state: the full model on the
    growing prefix, the most likely unit each step (padding excluded, as fairseq's generator does).
    Returns the units (B, L) and their log-probabilities (B, L)."""
    model, dictionary = vae.model, vae.dictionary
    encoder_out = model.encoder(None, z=z)
    prefix, scores = torch.full((z.size(0), 1), dictionary.bos()), []
    for _ in range(vae.sample_size):
        logits, _ = model.decoder(prefix, encoder_out=encoder_out)  # (B, T, V)
        lprobs = torch.log_softmax(logits[:, -1].float(), dim=-1)  # (B, V)
        lprobs[:, dictionary.pad()] = float("-inf")
        best, unit = lprobs.max(-1)
        prefix, scores = torch.cat([prefix, unit[:, None]], dim=1), scores + [best]
    return prefix[:, 1:], torch.stack(scores, dim=1)


def test_generation_equals_greedy_decoding_by_hand(vae):
    """fairseq's generator with the heads' incremental state gives the units and scores of the full
    model run on each prefix: incremental decoding is exact."""
    torch.manual_seed(0)
    z = torch.randn(3, vae.model.encoder.latent_dim)
    units, scores = greedy_by_hand(vae, z)
    for row, hypos in enumerate(vae.generate(z)):
        tokens = hypos[0]["tokens"][:-1]  # the units before the final EOS
        n = len(tokens)
        assert torch.equal(tokens, units[row, :n])
        assert n == vae.sample_size or units[row, n] == vae.dictionary.eos()  # it ended where fairseq did
        torch.testing.assert_close(hypos[0]["positional_scores"][:n], scores[row, :n], atol=1e-4, rtol=0)


@torch.no_grad()
def test_window_beam_is_ranked_by_the_units_log_likelihood(vae):
    """Each hypothesis of a window beam scores the mean log-probability of its L units under the full
    model (teacher-forced), not of the end symbol forced after them, and the beam is ranked by it."""
    torch.manual_seed(1)
    z = torch.randn(4, vae.model.encoder.latent_dim)
    encoder_out = vae.model.encoder(None, z=z)
    for row, hypos in enumerate(vae.generate(z, beam=4, nbest=4)):
        units = torch.stack([hypo["tokens"][:-1] for hypo in hypos])  # (N, L): the end symbol dropped
        assert units.size(1) == vae.sample_size
        start = units.new_full((len(hypos), 1), vae.dictionary.bos())
        logits, _ = vae.model.decoder(torch.cat([start, units[:, :-1]], dim=1),
                                      encoder_out={k: v[row : row + 1].expand(len(hypos), *v.shape[1:])
                                                   for k, v in encoder_out.items()})  # (N, L, V)
        lprobs = torch.log_softmax(logits.float(), dim=-1).gather(-1, units[..., None])[..., 0]  # (N, L)
        scores = torch.stack([hypo["score"] for hypo in hypos])  # (N,)
        torch.testing.assert_close(scores, lprobs.mean(dim=1), atol=1e-4, rtol=0)
        torch.testing.assert_close(torch.stack([h["positional_scores"] for h in hypos]), lprobs,
                                   atol=1e-4, rtol=0)
        assert scores.tolist() == sorted(scores.tolist(), reverse=True)


@pytest.mark.parametrize("model", ["hybrid_vae", "lstm_vae", "window_lm"])
def test_fairseqs_from_pretrained_on_a_model_points_to_the_python_api(tiny_data, model):
    from fairseq.models import MODEL_REGISTRY

    from fairseq_hybrid_vae.common.errors import InputError

    with pytest.raises(InputError, match=r"use fairseq_hybrid_vae\.TextVAEHubInterface\.from_pretrained"):
        MODEL_REGISTRY[model].from_pretrained(tiny_data, "checkpoint_best.pt", data_name_or_path=tiny_data)


def test_sample_encode_decode(vae):
    torch.manual_seed(0)
    texts = vae.sample(5)
    assert len(texts) == 5 and all(isinstance(t, str) and 0 < len(t) <= 16 for t in texts)
    mu, logvar = vae.encode(["the cat sees", "a dog eats some milk."])
    assert mu.shape == logvar.shape == (2, vae.model.encoder.latent_dim)
    sampled = vae.sample(3, sampling=True, sampling_topk=3)
    assert len(sampled) == 3


def test_interpolation_ends_are_the_reconstructions(vae):
    a, b = "the cat sees the", "my bird likes a"
    for method in ["lerp", "slerp"]:
        path = vae.interpolate(a, b, steps=4, method=method)
        assert len(path) == 4
        assert path[0] == vae.reconstruct([a])[0] and path[-1] == vae.reconstruct([b])[0]


def test_text_round_trip_through_units(vae):
    text = "a dog\neats."  # a window: its line break is an EOS, as hybrid-vae-prepare writes it
    tokens = vae.to_tokens([text])
    assert tokens.shape == (1, 16)
    d = vae.dictionary
    expected = [d.index(p) for p in vae.bpe.encode("a dog").split()] + [d.eos()] + [
        d.index(p) for p in vae.bpe.encode("eats.").split()]
    assert tokens[0, :len(expected)].tolist() == expected and tokens[0, len(expected):].eq(d.pad()).all()
    assert vae.to_text(tokens[0]) == text
    assert vae.to_text(vae.to_tokens(["\nab\n"])[0]) == "\nab\n"  # line breaks at the ends are kept
    assert vae.to_text(vae.to_tokens(["a dog eats!"])[0]) == "a dog eats\u2047"  # "!" is unseen
    assert os.path.isfile(os.path.join(vae.task.cfg.data, "spm.model"))


def test_the_python_api_example_prints_what_the_api_returns(tiny_data, tmp_path):
    """examples/python_api.py (docs/python_api.md) runs on any checkpoint and prints, for the inputs it
    takes from the valid split, the reconstructions the API returns."""
    import ast
    import subprocess
    import sys

    # the KL weight at its floor: a decoder that reads z, so that each input reconstructs otherwise
    run_train(tiny_data, str(tmp_path), "hybrid_vae_lstm",
              ["--max-update", "80", "--windows-per-epoch", "960", "--kl-anneal-start", "1000"])
    script = os.path.join(os.path.dirname(__file__), "..", "examples", "python_api.py")
    out = subprocess.run([sys.executable, script, "--save-dir", str(tmp_path), "--checkpoint",
                          "checkpoint_last.pt", "--data", tiny_data],
                         capture_output=True, text=True, check=True)
    blocks = out.stdout.split("```")[1::2]  # the printed results, one block per call
    quoted = [[ast.literal_eval(line) for line in block.strip().splitlines()] for block in blocks]
    inputs, reconstructions = quoted[1], quoted[3]
    vae = TextVAEHubInterface.from_pretrained(str(tmp_path), "checkpoint_last.pt",
                                              data_name_or_path=tiny_data)
    assert len(inputs) == 3 and reconstructions == vae.reconstruct(inputs)
    assert len(set(reconstructions)) > 1  # else a script that mixed up its inputs would pass too
    assert len(quoted[7]) == 5  # interpolate(..., steps=5)
