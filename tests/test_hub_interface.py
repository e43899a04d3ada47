"""The Python API: strings in, strings out, consistent with itself and with fairseq-generate."""

import os

import pytest
import torch
from conftest import run_train

from fairseq_hybrid_vae import TextVAEHubInterface


@pytest.fixture(scope="module", params=["hybrid_vae_lstm", "lstm_vae", "window_lm_bytenet"])
def vae(request, tiny_data, tmp_path_factory):
    save_dir = tmp_path_factory.mktemp(request.param)
    run_train(tiny_data, str(save_dir), request.param,
              ["--max-update", "60", "--windows-per-epoch", "960", "--kl-anneal-updates", "0"])
    return TextVAEHubInterface.from_pretrained(str(save_dir), "checkpoint_last.pt",
                                               data_name_or_path=tiny_data)


def test_sample_encode_decode(vae):
    torch.manual_seed(0)
    texts = vae.sample(5)
    assert len(texts) == 5 and all(isinstance(t, str) and 0 < len(t) <= 16 for t in texts)
    mu, logvar = vae.encode(["the cat sees", "a dog eats some milk."])
    assert mu.shape == logvar.shape == (2, vae.model.encoder.latent_dim)
    if vae.model.encoder.latent_dim:  # without a latent, decode and reconstruct ignore their input
        assert vae.decode(mu) == vae.reconstruct(["the cat sees", "a dog eats some milk."])
        assert vae.decode(mu[:1]) == vae.reconstruct(["the cat sees"])
    sampled = vae.sample(3, sampling=True, sampling_topk=3)
    assert len(sampled) == 3


def test_interpolation_ends_are_the_reconstructions(vae):
    a, b = "the cat sees the", "my bird likes a"
    for method in ["lerp", "slerp"]:
        path = vae.interpolate(a, b, steps=4, method=method)
        assert len(path) == 4
        assert path[0] == vae.reconstruct([a])[0] and path[-1] == vae.reconstruct([b])[0]


def test_text_round_trip_through_units(vae):
    text = "a dog eats."
    tokens = vae.to_tokens([text])
    assert tokens.shape == (1, 16)
    assert vae.to_text(tokens[0]) == text
    assert vae.to_text(vae.to_tokens(["a dog eats!"])[0]) == "a dog eats\u2047"  # "!" is unseen
    assert os.path.isfile(os.path.join(vae.task.cfg.data, "spm.model"))
