"""Fixed-length samples of L units: random or consecutive windows of a token stream, or whole lines."""

from typing import Dict, List

import numpy as np
import torch
from fairseq.data import FairseqDataset

from ..common.errors import InputError


class FixedLengthDataset(FairseqDataset):
    """Samples of exactly `sample_size` tokens (right-padded); the target is the sample itself.

    The decoder input is the sample shifted right behind the start symbol `bos` (fairseq's <s>), so
    position t predicts x_t from x_<t, as the authors' dedicated start symbol did.
    """

    has_target = True

    def __init__(self, sample_size: int, pad: int, bos: int, shuffle_seed: int | None):
        self.sample_size = sample_size
        self.pad = pad
        self.bos = bos
        self.shuffle_seed = shuffle_seed  # None: keep the order (valid/test)
        self.epoch = 1
        self.fill = pad  # what follows a short sample; only non-pad positions are scored

    def sample_tokens(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def __getitem__(self, index: int) -> Dict:
        tokens = np.full(self.sample_size, self.fill, dtype=np.int64)
        sample = self.sample_tokens(index)
        tokens[: len(sample)] = sample
        return {"id": index, "tokens": torch.from_numpy(tokens)}

    def collater(self, samples: List[Dict]) -> Dict:
        if len(samples) == 0:
            return {}
        target = torch.stack([s["tokens"] for s in samples])  # (B, L)
        start = target.new_full((target.size(0), 1), self.bos)  # (B, 1)
        prev_output_tokens = torch.cat([start, target[:, :-1]], dim=1)  # (B, L)
        return {
            "id": torch.tensor([s["id"] for s in samples]),
            "nsentences": len(samples),
            "ntokens": int(target.ne(self.pad).sum()),
            "net_input": {
                "src_tokens": target,
                "src_lengths": self.text_lengths(target),
                "prev_output_tokens": prev_output_tokens,
            },
            "target": target if self.has_target else None,
        }

    def text_lengths(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, L) -> (B,): each sample's units, what fairseq-generate's --match-source-len decodes: a
        window's L."""
        return torch.full((tokens.size(0),), self.sample_size)

    def num_tokens(self, index: int) -> int:
        return self.sample_size

    def size(self, index: int) -> int:
        return self.sample_size

    @property
    def sizes(self) -> np.ndarray:
        return np.full(len(self), self.sample_size)

    def batch_by_size(self, indices, max_tokens=None, max_sentences=None,
                      required_batch_size_multiple=1):
        """Consecutive batches of equal size, the last possibly smaller: fairseq's batcher drops a last batch
        that is not a multiple of --required-batch-size-multiple, leaving units of valid/test unscored.
        """
        size = max_sentences or len(indices)
        if max_tokens:
            size = min(size, max(1, max_tokens // self.sample_size))
        if size > required_batch_size_multiple:
            size -= size % required_batch_size_multiple
        return [indices[start : start + size] for start in range(0, len(indices), max(size, 1))]

    def ordered_indices(self) -> np.ndarray:
        if self.shuffle_seed is None:
            return np.arange(len(self))
        return np.random.default_rng([self.shuffle_seed, self.epoch]).permutation(len(self))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


class WindowDataset(FixedLengthDataset):
    """Windows of the corpus as one token stream (each line ends in EOS, i.e. newline). Training
    (`num_windows`): random offsets redrawn each epoch from (seed, epoch), so a resume sees the same
    windows. Evaluation: consecutive windows, the last padded, each token scored once.
    """

    def __init__(
        self,
        stream: np.ndarray,
        sample_size: int,
        pad: int,
        bos: int,
        num_windows: int | None = None,
        seed: int = 1,
        epoch: int = 1,
    ):
        random = num_windows is not None
        super().__init__(sample_size, pad, bos, shuffle_seed=seed if random else None)
        if len(stream) < sample_size and random:
            raise InputError(
                f"the training split has {len(stream)} units, fewer than one window of "
                f"--sample-size {sample_size}: use a larger corpus or a smaller --sample-size"
            )
        self.stream = stream
        self.num_windows = num_windows
        self.seed = seed
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        if self.num_windows is None:
            self.offsets = np.arange(0, len(self.stream), self.sample_size)
        else:
            rng = np.random.default_rng([self.seed, epoch, 0x57])  # 0x57: not the shuffle's stream
            high = len(self.stream) - self.sample_size + 1
            self.offsets = rng.integers(0, high, size=self.num_windows)

    def __len__(self) -> int:
        return len(self.offsets)

    def sample_tokens(self, index: int) -> np.ndarray:
        offset = self.offsets[index]
        return self.stream[offset : offset + self.sample_size]


class LineDataset(FixedLengthDataset):
    """One line (ending in EOS) per sample, padded to L; longer lines are dropped or truncated.

    With `fill_with_eos` the padding is more EOS symbols, which the model must predict, so every sample
    is scored over all L positions: the authors' tweet accounting (their <end> then <pad>, both targets).
    """

    def __init__(
        self,
        lines,
        sample_size: int,
        pad: int,
        bos: int,
        eos: int,
        long_lines: str = "drop",
        shuffle_seed: int | None = None,
        fill_with_eos: bool = False,
    ):
        super().__init__(sample_size, pad, bos, shuffle_seed)
        self.eos = eos
        if fill_with_eos:
            self.fill = eos
        self.lines = lines
        lengths = np.asarray(lines.sizes)
        self.indices = np.arange(len(lengths))
        if long_lines == "drop":
            self.indices = self.indices[lengths <= sample_size]
        self.num_dropped = len(lengths) - len(self.indices)
        self.num_truncated = int((lengths > sample_size).sum()) if long_lines == "truncate" else 0

    def __len__(self) -> int:
        return len(self.indices)

    def sample_tokens(self, index: int) -> np.ndarray:
        return self.lines[self.indices[index]][: self.sample_size].numpy()

    def text_lengths(self, tokens: torch.Tensor) -> torch.Tensor:
        """A line's units, its EOS and padding not counted (as fairseq counts a source's length)."""
        return (tokens.ne(self.pad) & tokens.ne(self.eos)).sum(dim=1)  # (B,)


class PriorDataset(FixedLengthDataset):
    """`num_samples` rows with no text: fairseq-generate's rows for samples of z ~ N(0, t^2 I)."""

    has_target = False

    def __init__(self, num_samples: int, sample_size: int, pad: int, bos: int):
        super().__init__(sample_size, pad, bos, shuffle_seed=None)
        self.num_samples = num_samples

    def __len__(self) -> int:
        return self.num_samples

    def sample_tokens(self, index: int) -> np.ndarray:
        return np.zeros(0, dtype=np.int64)


class InterpolationDataset(FairseqDataset):
    """For each consecutive pair (0, 1), (2, 3), ... of `base`: `steps` rows on the path between them.

    A row holds the pair's first sample as its source, the second as its target and the point's
    weight (0 ... 1); the task decodes the point between their posterior means.
    """

    def __init__(self, base: FixedLengthDataset, steps: int):  # steps >= 2: the task's range
        self.base = base
        self.steps = steps

    def __len__(self) -> int:
        return len(self.base) // 2 * self.steps

    def __getitem__(self, index: int) -> Dict:
        pair, step = divmod(index, self.steps)
        start, end = self.base[2 * pair], self.base[2 * pair + 1]
        return {"id": index, "tokens": start["tokens"], "end_tokens": end["tokens"],
                "weight": step / (self.steps - 1)}

    def collater(self, samples: List[Dict]) -> Dict:
        batch = self.base.collater(samples)
        if samples:
            batch["target"] = torch.stack([s["end_tokens"] for s in samples])  # (B, L)
            batch["net_input"]["interpolate_to"] = batch["target"]
            batch["net_input"]["interpolate_weight"] = torch.tensor([s["weight"] for s in samples])
        return batch

    def num_tokens(self, index: int) -> int:
        return self.base.sample_size

    def size(self, index: int) -> int:
        return self.base.sample_size

    def batch_by_size(self, indices, **kwargs):
        return self.base.batch_by_size(indices, **kwargs)
