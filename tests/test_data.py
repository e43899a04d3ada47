"""Window and line datasets: coverage, determinism, padding and the shifted decoder input."""

import numpy as np
import pytest
import torch

from fairseq_hybrid_vae.data import LineDataset, WindowDataset

PAD, BOS, EOS = 1, 0, 2


def test_random_windows_are_deterministic_per_seed_and_epoch():
    stream = np.arange(100, 1100)
    a = WindowDataset(stream, 10, PAD, BOS, num_windows=50, seed=3, epoch=1)
    b = WindowDataset(stream, 10, PAD, BOS, num_windows=50, seed=3, epoch=1)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    b.set_epoch(2)
    assert not np.array_equal(a.offsets, b.offsets)
    c = WindowDataset(stream, 10, PAD, BOS, num_windows=50, seed=3, epoch=2)
    np.testing.assert_array_equal(b.offsets, c.offsets)  # a resumed epoch sees the same windows
    assert not np.array_equal(
        a.offsets, WindowDataset(stream, 10, PAD, BOS, num_windows=50, seed=4).offsets
    )


def test_random_windows_cover_the_stream_uniformly():
    stream = np.arange(200)
    dataset = WindowDataset(stream, 8, PAD, BOS, num_windows=20_000, seed=1)
    assert dataset.offsets.min() == 0 and dataset.offsets.max() == 200 - 8  # every offset reachable
    counts = np.bincount(dataset.offsets, minlength=193)
    expected = 20_000 / 193
    assert counts.min() > 0.6 * expected and counts.max() < 1.4 * expected
    item = dataset[5]["tokens"].numpy()
    np.testing.assert_array_equal(item, stream[dataset.offsets[5] : dataset.offsets[5] + 8])


def test_evaluation_windows_score_each_token_exactly_once():
    stream = np.arange(10, 33)  # 23 tokens, windows of 5: 4 full + 1 padded
    dataset = WindowDataset(stream, 5, PAD, BOS)
    assert len(dataset) == 5
    tokens = torch.cat([dataset[i]["tokens"] for i in range(len(dataset))])
    scored = tokens[tokens != PAD].numpy()
    np.testing.assert_array_equal(scored, stream)


def test_collater_shifts_targets_behind_the_start_symbol():
    dataset = WindowDataset(np.arange(10, 40), 6, PAD, BOS)
    batch = dataset.collater([dataset[0], dataset[1]])
    target = batch["target"]
    assert target.shape == (2, 6)
    assert torch.equal(batch["net_input"]["src_tokens"], target)
    prev = batch["net_input"]["prev_output_tokens"]
    assert torch.all(prev[:, 0] == BOS) and torch.equal(prev[:, 1:], target[:, :-1])
    assert batch["ntokens"] == 12 and batch["nsentences"] == 2


class Lines:
    """Stands in for fairseq's indexed dataset: lines of token ids ending in EOS (2)."""

    def __init__(self, lengths):
        self.items = [torch.arange(10, 10 + n - 1).tolist() + [2] for n in lengths]
        self.sizes = np.array(lengths)

    def __getitem__(self, i):
        return torch.tensor(self.items[i])

    def __len__(self):
        return len(self.items)


@pytest.mark.parametrize("long_lines,expected", [("drop", 2), ("truncate", 3)])
def test_line_mode_pads_and_handles_long_lines(long_lines, expected):
    dataset = LineDataset(Lines([3, 8, 5]), 5, PAD, BOS, EOS, long_lines=long_lines)
    assert len(dataset) == expected
    first = dataset[0]["tokens"].tolist()
    assert first == [10, 11, 2, PAD, PAD]  # the line, its EOS, then padding
    if long_lines == "truncate":
        assert dataset[1]["tokens"].tolist() == [10, 11, 12, 13, 14]
        assert dataset.num_truncated == 1
    else:
        assert dataset.num_dropped == 1


def test_line_padding_eos_scores_every_position():
    """The paper's tweet accounting: EOS fills the line to L and every position is a target."""
    dataset = LineDataset(Lines([3, 5]), 5, PAD, BOS, EOS, fill_with_eos=True)
    assert dataset[0]["tokens"].tolist() == [10, 11, 2, 2, 2]
    batch = dataset.collater([dataset[0], dataset[1]])
    assert batch["ntokens"] == 10  # both samples, all L positions
    assert batch["net_input"]["prev_output_tokens"][0].tolist() == [BOS, 10, 11, 2, 2]
    padded = LineDataset(Lines([3, 5]), 5, PAD, BOS, EOS)
    assert padded.collater([padded[0], padded[1]])["ntokens"] == 3 + 5


@pytest.mark.parametrize("num_windows,batch_size,multiple", [(343, 64, 8), (12, 8, 8), (5, 64, 8)])
def test_batches_keep_every_sample(num_windows, batch_size, multiple):
    """fairseq's own batcher drops a last batch that is not a multiple of 8; ours keeps it."""
    dataset = WindowDataset(np.arange(num_windows * 5), 5, PAD, BOS)
    batches = dataset.batch_by_size(np.arange(len(dataset)), max_sentences=batch_size,
                                    required_batch_size_multiple=multiple)
    np.testing.assert_array_equal(np.concatenate(batches), np.arange(num_windows))
    assert all(len(b) % multiple == 0 for b in batches[:-1])
    assert all(len(b) <= batch_size for b in batches)
