"""fairseq-generate in-process: prior samples and reconstructions from a tiny trained model."""

import pytest
from conftest import run_generate, run_train


@pytest.fixture(scope="module", params=["hybrid_vae_lstm", "hybrid_vae_bytenet"])
def checkpoint(request, tiny_data, tmp_path_factory):
    save_dir = tmp_path_factory.mktemp(request.param)
    run_train(tiny_data, str(save_dir), request.param,
              ["--max-update", "60", "--windows-per-epoch", "960", "--kl-anneal-updates", "0"])  # fmt: skip
    return str(save_dir / "checkpoint_last.pt")


def lines_of(output, prefix):
    return [line.split("\t") for line in output if line.startswith(prefix)]


def test_prior_samples(tiny_data, checkpoint):
    flags = ["--sample-size", "16", "--gen-mode", "prior", "--gen-subset", "prior",
             "--num-samples", "12", "--beam", "1"]  # fmt: skip
    output = run_generate(tiny_data, checkpoint, flags)
    samples = lines_of(output, "D-")
    assert sorted(int(d[0][2:]) for d in samples) == list(range(12))
    texts = [d[2] for d in samples]
    assert all(0 < len(text) <= 16 for text in texts)  # at most L units (characters here)
    assert lines_of(output, "T-") == []  # nothing to score against
    # Greedy decoding: one run differs from another only through z, which --seed fixes.
    again = [d[2] for d in lines_of(run_generate(tiny_data, checkpoint, flags), "D-")]
    assert again == texts
    other_seed = run_generate(tiny_data, checkpoint, flags + ["--seed", "7"])
    assert [d[2] for d in lines_of(other_seed, "D-")] != texts


def test_reconstructions_and_decoding_strategies(tiny_data, checkpoint):
    for strategy in [["--beam", "1"], ["--beam", "3", "--nbest", "2"],
                     ["--sampling", "--sampling-topk", "5", "--beam", "1"]]:  # fmt: skip
        output = run_generate(tiny_data, checkpoint, ["--sample-size", "16", "--gen-mode",
                              "reconstruct", "--gen-subset", "valid"] + strategy)  # fmt: skip
        sources = lines_of(output, "S-")
        hypotheses = lines_of(output, "D-")
        assert len(sources) > 0
        nbest = 2 if "--nbest" in strategy else 1
        assert len(hypotheses) == nbest * len(sources)
        # The S- lines are detokenized windows of the synthetic sentences.
        assert all(len(s[1]) <= 16 for s in sources)
        assert any(" " in s[1] for s in sources)
