"""fairseq-generate in-process: prior samples and reconstructions from a tiny trained model."""

import math
import os

import pytest
from conftest import run_generate, run_interactive, run_train, synthetic_lines, unescaped
from fairseq.data import data_utils

pytestmark = pytest.mark.float_sensitive  # scripts/test.sh runs these again one instruction set down


@pytest.fixture(scope="module", params=["hybrid_vae_lstm", "hybrid_vae_bytenet", "hybrid_vae_feedforward"])
def checkpoint(request, tiny_data, tmp_path_factory):
    save_dir = tmp_path_factory.mktemp(request.param)
    run_train(tiny_data, str(save_dir), request.param,
              ["--max-update", "60", "--windows-per-epoch", "960", "--kl-anneal-updates", "0"])
    return str(save_dir / "checkpoint_last.pt")


def lines_of(output, prefix):
    return [line.split("\t") for line in output if line.startswith(prefix)]


def test_prior_samples(tiny_data, checkpoint):
    flags = ["--sample-size", "16", "--gen-mode", "prior", "--gen-subset", "prior",
             "--num-samples", "12", "--beam", "1"]
    output = run_generate(tiny_data, checkpoint, flags)
    samples = lines_of(output, "D-")
    assert sorted(int(d[0][2:]) for d in samples) == list(range(12))
    texts = [d[2] for d in samples]
    assert all(0 < len(unescaped(text)) <= 16 for text in texts)  # at most L units (characters here)
    assert lines_of(output, "T-") == []  # nothing to score against
    # Greedy decoding: one run differs from another only through z, which --seed fixes.
    again = [d[2] for d in lines_of(run_generate(tiny_data, checkpoint, flags), "D-")]
    assert again == texts
    other_seed = run_generate(tiny_data, checkpoint, flags + ["--seed", "7"])
    assert [d[2] for d in lines_of(other_seed, "D-")] != texts


def test_reconstructions_and_decoding_strategies(tiny_data, checkpoint):
    for strategy in [["--beam", "1"], ["--beam", "3", "--nbest", "2"],
                     ["--sampling", "--sampling-topk", "5", "--beam", "1"]]:
        output = run_generate(tiny_data, checkpoint, ["--sample-size", "16", "--gen-mode",
                              "reconstruct", "--gen-subset", "valid"] + strategy)
        sources = lines_of(output, "S-")
        hypotheses = lines_of(output, "D-")
        assert len(sources) > 0
        nbest = 2 if "--nbest" in strategy and "feedforward" not in checkpoint else 1
        assert len(hypotheses) == nbest * len(sources)
        assert lines_of(output, "T-") == [] and not any("BLEU" in line for line in output)  # T- was S-
        # The S- lines are detokenized windows of the synthetic sentences.
        assert all(len(unescaped(s[1])) <= 16 for s in sources)
        assert any(" " in s[1] for s in sources)


def test_a_window_record_shows_its_line_breaks(tiny_data, checkpoint):
    """In a window EOS is a line break inside the text: S- records are the corpus's characters, window by
    window, with each break shown as \\n (fairseq's string() would drop it, gluing the words)."""
    text = "\n".join(synthetic_lines(60, 1)) + "\n"  # valid.txt, the tiny data's valid split
    output = run_generate(tiny_data, checkpoint, ["--sample-size", "16", "--gen-subset", "valid",
                                                  "--beam", "1"])
    records = {int(s[0][2:]): s[1] for s in lines_of(output, "S-")}
    assert [records[i] for i in sorted(records)] == [
        text[start:start + 16].replace("\n", "\\n") for start in range(0, len(text), 16)]


def test_the_training_split_is_reconstructed_window_by_window(tiny_data, checkpoint):
    """--gen-subset train reads the split as valid is read: consecutive windows, each unit once (not the
    trainer's --windows-per-epoch random windows, 64,000 by default)."""
    train = data_utils.load_indexed_dataset(os.path.join(tiny_data, "train"), None)  # held: sizes is its mmap
    units = int(train.sizes.sum())
    output = run_generate(tiny_data, checkpoint, ["--sample-size", "16", "--gen-subset", "train",
                                                  "--beam", "1"])
    assert sorted(int(s[0][2:]) for s in lines_of(output, "S-")) == list(range(math.ceil(units / 16)))


@pytest.mark.parametrize("path", ["lerp", "slerp"])
def test_interpolation_rows(tiny_data, checkpoint, path):
    output = run_generate(tiny_data, checkpoint, [
        "--sample-size", "16", "--gen-mode", "interpolate", "--gen-subset", "valid",
        "--interpolate-steps", "4", "--interpolate", path, "--beam", "1"])
    starts, ends, points = lines_of(output, "S-"), lines_of(output, "T-"), lines_of(output, "D-")
    assert len(points) == len(starts) == len(ends) and len(points) % 4 == 0
    # T- is the path's far end, no reference: fairseq's default scored the points against it with BLEU
    assert output[-1] == "Generate valid with beam=1: not scored (--scoring unscored: the T- lines are no " \
        "reference for the D- lines)" and not any("BLEU" in line for line in output)
    by_id = {int(d[0][2:]): d[2] for d in points}
    source = {int(s[0][2:]): s[1] for s in starts}
    for pair in range(len(points) // 4):
        ids = range(4 * pair, 4 * pair + 4)
        assert len({source[i] for i in ids}) == 1  # one pair: the same start for its 4 points
        assert all(by_id[i] for i in ids)


def test_parallel_pass_equals_fairseq_greedy_search(tiny_data, tmp_path):
    """hybrid_vae_feedforward decodes in one pass; fairseq's step-by-step greedy agrees exactly."""
    import torch
    from fairseq import checkpoint_utils
    from fairseq.dataclass.configs import GenerationConfig
    from fairseq.tasks import FairseqTask

    from fairseq_hybrid_vae.tasks.parallel_generator import ParallelGenerator

    run_train(tiny_data, str(tmp_path), "hybrid_vae_feedforward", ["--max-update", "30"])
    checkpoint = str(tmp_path / "checkpoint_last.pt")
    models, _, task = checkpoint_utils.load_model_ensemble_and_task(
        [checkpoint], arg_overrides={"data": tiny_data})
    model = models[0].eval()
    L, pad, bos = task.cfg.sample_size, task.dictionary.pad(), task.dictionary.bos()
    parallel = task.build_generator(models, GenerationConfig(beam=1))
    # fairseq's own step-by-step greedy search, told a window's length and end symbol
    sequential = FairseqTask.build_generator(task, models, GenerationConfig(beam=1, min_len=L, max_len_b=L),
                                             extra_gen_cls_kwargs={"eos": bos})
    assert isinstance(parallel, ParallelGenerator)
    torch.manual_seed(0)
    z = torch.randn(6, model.encoder.latent_dim)
    tokens = torch.full((6, L), pad)
    sample = {"net_input": {"src_tokens": tokens, "src_lengths": torch.full((6,), L),
                            "prev_output_tokens": tokens, "z": z}}
    fast = parallel.generate(models, sample, bos_token=bos)
    slow = sequential.generate(models, sample, bos_token=bos)
    for f, s in zip(fast, slow):
        assert torch.equal(f[0]["tokens"], s[0]["tokens"])
        # scored on the L units alone: fairseq's last score is the forced end's
        torch.testing.assert_close(f[0]["positional_scores"], s[0]["positional_scores"][:-1],
                                   atol=1e-4, rtol=0)


def test_interactive_reconstructs_typed_lines_as_the_python_api_does(tiny_data, checkpoint):
    """hybrid-vae-interactive: each typed line's D- is the Python API's reconstruction of the text."""
    import os

    from fairseq_hybrid_vae import TextVAEHubInterface

    texts = ["the cat sees", "a dog eats some milk.", "my bird likes a dog and a cat and milk"]  # 2 > L
    output = run_interactive(tiny_data, checkpoint, ["--sample-size", "16", "--beam", "3"], texts)
    decoded = {int(d[0][2:]): d[2] for d in lines_of(output, "D-")}
    vae = TextVAEHubInterface.from_pretrained(os.path.dirname(checkpoint), os.path.basename(checkpoint),
                                              data_name_or_path=tiny_data)
    # a D- record shows a window's line breaks (EOS) escaped; the API's text holds them
    assert [unescaped(decoded[i]) for i in range(len(texts))] == vae.reconstruct(texts, beam=3)
    with pytest.raises(ValueError, match="--gen-mode prior does not read typed lines"):
        run_interactive(tiny_data, checkpoint, ["--sample-size", "16", "--gen-mode", "prior"], texts)


def test_prior_subset_needs_prior_mode(tiny_data, checkpoint):
    with pytest.raises(ValueError, match="add --gen-mode prior"):
        run_generate(tiny_data, checkpoint, ["--sample-size", "16", "--gen-subset", "prior"])


def tiny_task_and_model(sample_size: int, sample_mode: str, head: str = "lstm", eos_bias: float = 0.0):
    """An untrained hybrid_vae on the letters a, b, its EOS logit raised (or lowered) by `eos_bias`."""
    from types import SimpleNamespace

    import torch
    from fairseq.data import Dictionary

    from fairseq_hybrid_vae.models.hybrid_vae import HybridVAEConfig, HybridVAEModel
    from fairseq_hybrid_vae.tasks.text_vae import TextVAEConfig, TextVAETask

    dictionary = Dictionary()
    for c in "ab":
        dictionary.add_symbol(c)
    task = TextVAETask(TextVAEConfig(sample_size=sample_size, sample_mode=sample_mode), dictionary)
    cfg = HybridVAEConfig(sample_size=sample_size, decoder_head=head, latent_dim=2, encoder_channels=[4, 4],
                          decoder_feature_dim=4, lstm_hidden_size=4)
    model = HybridVAEModel.build_model(cfg, SimpleNamespace(target_dictionary=dictionary)).eval()
    with torch.no_grad():
        model.decoder.output_projection.bias[dictionary.eos()] += eos_bias
    return task, model


def generate_from_prior(task, model, batch_size: int = 2, **generation):
    import torch
    from fairseq.dataclass.configs import GenerationConfig

    L = task.cfg.sample_size
    generator = task.build_generator([model], GenerationConfig(**generation))
    blank = torch.full((batch_size, L), task.dictionary.pad())
    sample = {"net_input": {"src_tokens": blank, "src_lengths": torch.full((batch_size,), L),
                            "prev_output_tokens": blank, "z": torch.randn(batch_size, 2)}}
    return generator.generate([model], sample, bos_token=task.dictionary.bos())


def test_samples_longer_than_fairseq_default_length_limit():
    """L = 256 > fairseq's default --max-len-b 200: a line may still have all L units."""
    task, model = tiny_task_and_model(256, "line", eos_bias=-1e4)  # EOS never wins
    hypos = generate_from_prior(task, model, beam=1)
    assert [len(h[0]["tokens"]) for h in hypos] == [257, 257]  # 256 units and the forced EOS


@pytest.mark.parametrize("head", ["lstm", "bytenet", "none"])
@pytest.mark.parametrize("strategy", [{"beam": 1}, {"beam": 3, "nbest": 3}, {"sampling": True, "beam": 1}])
def test_a_window_decodes_to_all_its_units_and_a_line_ends_at_eos(head, strategy):
    """In a window EOS is a line break: a decoder that always predicts it still writes L units of it
    (then the end symbol <s>); the same decoder in line mode ends every sample after one unit."""
    window_task, model = tiny_task_and_model(8, "window", head, eos_bias=30.0)
    line_task, _ = tiny_task_and_model(8, "line", head)
    dictionary = window_task.dictionary
    eos, bos = dictionary.eos(), dictionary.bos()
    for hypos in generate_from_prior(window_task, model, **strategy):
        assert hypos[0]["tokens"].tolist() == [eos] * 8 + [bos]
        for hypo in hypos:  # the rest of an n-best list: other units, the same length
            assert len(hypo["tokens"]) == 9 and hypo["tokens"].tolist().index(bos) == 8
    for hypos in generate_from_prior(line_task, model, **strategy):
        for hypo in hypos:
            assert len(hypo["tokens"]) == 2 and hypo["tokens"][-1] == eos  # min_len 1, then EOS


@pytest.mark.parametrize("flags", [["--max-len-b", "10"], ["--match-source-len"]])
def test_window_mode_refuses_length_options(tiny_data, checkpoint, flags):
    with pytest.raises(ValueError, match=f"{' '.join(flags)}: in window mode every sample decodes"):
        run_generate(tiny_data, checkpoint, ["--sample-size", "16", "--gen-mode", "reconstruct",
                                             "--gen-subset", "valid"] + flags)


def reconstruct_lines(task, model, texts, ids=None, **generation):
    """The task's reconstructions of `texts` (lists of unit ids) as one batch of its line dataset."""
    import torch
    from fairseq.data import ListDataset
    from fairseq.dataclass.configs import GenerationConfig

    from fairseq_hybrid_vae.data import LineDataset

    d = task.dictionary
    lines = [torch.tensor(text + [d.eos()]) for text in texts]
    dataset = LineDataset(ListDataset(lines, sizes=[len(line) for line in lines]), task.cfg.sample_size,
                          d.pad(), d.bos(), d.eos(), long_lines="truncate")
    sample = dataset.collater([dataset[i] for i in range(len(texts))])
    if ids is not None:
        sample["id"] = torch.tensor(ids)
    generator = task.build_generator([model], GenerationConfig(**generation))
    return task.inference_step(generator, [model], sample)


@pytest.mark.parametrize("head", ["lstm", "bytenet", "none"])
@pytest.mark.parametrize("eos_bias", [30.0, -1e4])
def test_match_source_len_decodes_each_line_to_its_inputs_length(head, eos_bias):
    """fairseq's --match-source-len in line mode: as many units as the input line, then EOS, whether
    the decoder would end at once (EOS favoured) or never (EOS suppressed)."""
    task, model = tiny_task_and_model(8, "line", head, eos_bias=eos_bias)
    a, b = (task.dictionary.index(c) for c in "ab")
    texts = [[a, b, a], [b], [a] * 8, [b, b, a, a, b]]  # 8 units: a line cut at L, no EOS in the sample
    for strategy in [{"beam": 1}, {"beam": 2, "nbest": 2}]:
        for text, hypos in zip(texts, reconstruct_lines(task, model, texts, match_source_len=True,
                                                        **strategy)):
            for hypo in hypos:
                assert hypo["tokens"].tolist()[len(text):] == [task.dictionary.eos()]
                assert task.dictionary.eos() not in hypo["tokens"].tolist()[:len(text)]


def test_diverse_beam_groups_decode_each_line_as_alone():
    """fairseq 0.12's DiverseBeamSearch keeps per-sentence state indexed by sample id: with ids that
    are not 0..B-1 (any batch but the first) it failed; each line now decodes as it does alone."""
    task, model = tiny_task_and_model(8, "line")
    a, b = (task.dictionary.index(c) for c in "ab")
    texts = [[a, b, a], [b, b], [a, a, b, b, a]]
    diverse = {"beam": 4, "nbest": 4, "diverse_beam_groups": 2}
    together = reconstruct_lines(task, model, texts, ids=[7, 3, 12], **diverse)
    for text, hypos in zip(texts, together):
        alone = reconstruct_lines(task, model, [text], ids=[0], **diverse)[0]
        assert [h["tokens"].tolist() for h in hypos] == [h["tokens"].tolist() for h in alone]


@pytest.mark.parametrize("lengths,message", [
    ({"max_len_b": 0}, "--min-len 1 is more than the longest sample allowed, 0 units"),
    ({"min_len": 9}, "--min-len 9 is more than the longest sample allowed, 8 units"),  # L = 8 caps it
    ({"min_len": 5, "max_len_a": 0.5, "max_len_b": 0}, "--min-len 5 is more than the longest sample "
                                                        "allowed, 4 units"),
])
def test_line_mode_refuses_a_min_len_no_sample_can_have(lengths, message):
    """fairseq's generator asserts min_len <= min(max_len_a x L + max_len_b, L) without naming an
    option (a traceback); the task says which options leave no length."""
    from fairseq_hybrid_vae.common.errors import InputError

    task, model = tiny_task_and_model(8, "line")
    with pytest.raises(InputError, match=message):
        generate_from_prior(task, model, beam=1, **lengths)
    hypos = generate_from_prior(task, model, beam=1, min_len=4, max_len_a=0.5, max_len_b=0)  # 4 fits
    assert all(len(h[0]["tokens"]) == 5 for h in hypos)  # 4 units, then the EOS the length limit forces


def test_fairseq_eval_lm_points_to_hybrid_vae_eval(tiny_data, checkpoint):
    from conftest import PACKAGE_DIR
    from fairseq import options
    from fairseq_cli import eval_lm

    args = options.parse_args_and_arch(options.get_eval_lm_parser(), [
        tiny_data, "--user-dir", PACKAGE_DIR, "--task", "text_vae", "--sample-size", "16",
        "--path", checkpoint, "--cpu", "--batch-size", "8"])
    with pytest.raises(ValueError, match="^fairseq-eval-lm does not evaluate text_vae models: run hybrid"):
        eval_lm.main(args)
