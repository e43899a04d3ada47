"""Python API for every model of the plugin, strings in and strings out, on fairseq's generators.

    vae = TextVAEHubInterface.from_pretrained("checkpoints", data_name_or_path="data-bin/ptb")
    vae.sample(5); mu, logvar = vae.encode(["the company said"]); vae.interpolate("a", "b", steps=5)
"""

import copy
import os
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
from omegaconf import open_dict
from torch import Tensor

from .common.errors import InputError
from .common.option_ranges import (
    AT_LEAST_1,
    AT_LEAST_2,
    FINITE,
    NON_NEGATIVE,
    Range,
    out_of_range,
    wrong_kind,
)
from .fairseq_fixes.patches import command_line_patches
from .modules import interpolate_latents, reparameterize

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class TextVAEHubInterface(nn.Module):
    def __init__(self, cfg, task, model):
        super().__init__()
        self.cfg = cfg
        self.task = task
        self.model = model.eval()
        self.dictionary = task.target_dictionary
        self.bpe = task.build_bpe()
        self._split_codes = {}  # split -> (posterior means, units), for neighbours

    @classmethod
    def from_pretrained(cls, model_dir: str, checkpoint_file: str = "checkpoint_best.pt",
                        data_name_or_path: str = ".", **overrides) -> "TextVAEHubInterface":
        """Load a checkpoint of `model_dir`; `data_name_or_path` is the data directory of training
        (its dict.txt and spm.model), relative to `model_dir` when it starts with '.'. `overrides`
        replace options of the checkpoint's config, e.g. bf16_autocast=True: encode and decode under
        bf16 autocast (fp32 otherwise, whatever the model was trained with)."""
        from fairseq import hub_utils

        relative = data_name_or_path.startswith(".")  # as fairseq's hub_utils reads it
        data_dir = os.path.join(model_dir, data_name_or_path) if relative else data_name_or_path
        for argument, path, kind in [("model_dir", model_dir, "folder"),
                                     ("data_name_or_path", data_dir, "folder"),
                                     ("checkpoint_file", os.path.join(model_dir, checkpoint_file), "file")]:
            if wrong_kind(path, kind):
                raise InputError(f"from_pretrained({argument}=...): {wrong_kind(path, kind)}")
        # A refused, missing or broken checkpoint raises one clear CheckpointError, as on the command line.
        with command_line_patches(only=["load_checkpoint_to_cpu"]):
            loaded = hub_utils.from_pretrained(
                model_dir, checkpoint_file, data_name_or_path, user_dir=PACKAGE_DIR, **overrides
            )
        loaded["task"].use_bf16_autocast(bool(overrides.get("bf16_autocast", False)))
        return cls(loaded["args"], loaded["task"], loaded["models"][0])

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def sample_size(self) -> int:
        return self.model.encoder.sample_size

    @property
    def windows(self) -> bool:
        """Whether the model reads fixed windows of running text, where EOS is a line break."""
        return self.task.cfg.sample_mode == "window"

    # text <-> units
    def to_tokens(self, texts: Sequence[str]) -> Tensor:
        """(B, L): each text's units as the encoder reads them (TextVAETask.encode_texts)."""
        check_texts(texts)
        return self.task.encode_texts(texts).to(self.device)

    def to_text(self, tokens: Tensor) -> str:
        """Units -> text, padding ignored: in line mode a final EOS ends the text, in window mode every
        EOS is a line break (WindowDictionary keeps it)."""
        return self.bpe.text(self.dictionary.string(tokens[tokens.ne(self.dictionary.pad())]))

    # the latent space
    @torch.no_grad()
    def encode(self, texts: Sequence[str], batch_size: int = 64) -> Tuple[Tensor, Tensor]:
        """q(z|x) of each text: (mu, logvar), each (B, Z); the encoder reads `batch_size` texts at a time
        (its activations for thousands at once would take GBs)."""
        check_value("batch_size", batch_size, AT_LEAST_1)
        tokens = self.to_tokens(texts)  # (B, L), all at once: a text cut to L is named by its place in texts
        mus, logvars = zip(*(self._posterior(tokens[start : start + batch_size])
                             for start in range(0, len(tokens), batch_size)))
        return torch.cat(mus), torch.cat(logvars)

    def _posterior(self, src_tokens: Tensor) -> Tuple[Tensor, Tensor]:
        """(mu, logvar) in fp32, computed under bf16 autocast when loaded with bf16_autocast=True."""
        with self.task.autocast(self.model):
            mu, logvar = self.model.encoder.posterior(src_tokens)
        return mu.float(), logvar.float()

    @torch.no_grad()
    def generate(self, z: Tensor, beam: int = 1, **generation) -> List[List[dict]]:
        """fairseq's hypotheses for each code in z (B, Z): per code, `beam` dicts with "tokens",
        "score" and "positional_scores", as fairseq's generators return them."""
        if z.dim() != 2 or z.size(1) != self.model.encoder.latent_dim:
            raise InputError(f"z has shape {tuple(z.shape)}: give (B, {self.model.encoder.latent_dim}), one "
                             "latent code per row")
        generator = self._generator(beam=beam, **generation)
        blank = torch.full((z.size(0), self.sample_size), self.dictionary.pad(), device=self.device)
        sample = {"net_input": {"src_tokens": blank, "prev_output_tokens": blank, "z": z.to(self.device),
                                "src_lengths": torch.full((z.size(0),), self.sample_size)}}
        with self.task.autocast(self.model):
            return generator.generate([self.model], sample, bos_token=self.dictionary.bos())

    def decode(self, z: Tensor, beam: int = 1, **generation) -> List[str]:
        """Text for each code in z (B, Z): greedy by default (the paper); `generation` takes
        fairseq's generation options, e.g. sampling=True, sampling_topk=10, temperature=0.8."""
        return [self.to_text(hypos[0]["tokens"]) for hypos in self.generate(z, beam, **generation)]

    def sample(self, n: int, temperature: float = 1.0, beam: int = 1, **generation) -> List[str]:
        """n texts from z ~ N(0, temperature^2 I)."""
        check_value("n", n, AT_LEAST_1)
        check_value("temperature", temperature, NON_NEGATIVE)
        z = torch.randn(n, self.model.encoder.latent_dim, device=self.device) * temperature
        return self.decode(z, beam=beam, **generation)

    def reconstruct(self, texts: Sequence[str], posterior_sample: bool = False, **generation) -> List[str]:
        """Decode the posterior mean of each text (or a posterior sample)."""
        mu, logvar = self.encode(texts)
        return self.decode(reparameterize(mu, logvar) if posterior_sample else mu, **generation)

    def interpolate(self, start: str, end: str, steps: int = 5, method: str = "lerp",
                    **generation) -> List[str]:
        """`steps` texts on the path between the posterior means of `start` and `end`."""
        check_value("steps", steps, AT_LEAST_2)
        mu, _ = self.encode([start, end])
        weight = torch.linspace(0, 1, steps, device=self.device)
        z = interpolate_latents(mu[:1].expand(steps, -1), mu[1:].expand(steps, -1), weight, method)
        return self.decode(z, **generation)

    # steering through z
    def mean_posterior(self, texts: Sequence[str], batch_size: int = 64) -> Tensor:
        """The mean of the posterior means of `texts`: (Z,)."""
        return self.encode(texts, batch_size)[0].mean(dim=0)

    def attribute_vector(self, with_attribute: Sequence[str], without_attribute: Sequence[str]) -> Tensor:
        """The direction from texts without an attribute to texts with it (e.g. negative to positive
        tweets): the difference of their mean posteriors, (Z,)."""
        return self.mean_posterior(with_attribute) - self.mean_posterior(without_attribute)

    def steer(self, texts: Sequence[str], vector: Tensor, amount: float = 1.0, **generation) -> List[str]:
        """Decode each text's posterior mean moved by `amount` x `vector` (amount 0: reconstruct)."""
        check_value("amount", amount, FINITE)
        mu, _ = self.encode(texts)
        if tuple(vector.shape) != (mu.size(1),):
            raise InputError(f"vector has shape {tuple(vector.shape)}: give ({mu.size(1)},), the latent size")
        return self.decode(mu + amount * vector.to(mu), **generation)

    def analogy(self, a: str, b: str, c: str, **generation) -> str:
        """a : b :: c : ?, decoded from z(c) + z(b) - z(a) (posterior means)."""
        mu, _ = self.encode([a, b, c])
        return self.decode((mu[2] + mu[1] - mu[0]).unsqueeze(0), **generation)[0]

    def neighbours(self, text: str, k: int = 5, split: str = "train") -> List[Tuple[str, float]]:
        """The k samples of a split (its windows or lines, each once) whose posterior means are closest
        to the text's, with their Euclidean distances, nearest first."""
        check_value("k", k, AT_LEAST_1)
        codes, tokens = self.split_codes(split)
        distances = (codes - self.encode([text])[0]).norm(dim=1)  # (N,)
        nearest = distances.topk(min(k, len(distances)), largest=False)
        return [(self.to_text(tokens[i]), float(d)) for d, i in zip(nearest.values, nearest.indices)]

    @torch.no_grad()
    def split_codes(self, split: str, batch_size: int = 64) -> Tuple[Tensor, Tensor]:
        """Posterior means (N, Z) and units (N, L) of every sample of a split of the data directory, in
        order; computed once per split."""
        if split not in self._split_codes:
            self.task.load_dataset(split)  # consecutive windows (or lines in order), each unit once
            dataset = self.task.dataset(split)
            # Filled in place: a list of small per-batch tensors kept between each batch's large
            # temporaries fragmented the heap (210k tweets: 3.8 GB peak, 0.75 GB so; docs/benchmarks.md).
            codes = torch.empty(len(dataset), self.model.encoder.latent_dim, device=self.device)  # (N, Z)
            tokens = torch.empty(len(dataset), self.sample_size, dtype=torch.long, device=self.device)
            for start in range(0, len(dataset), batch_size):
                rows = slice(start, min(start + batch_size, len(dataset)))
                batch = dataset.collater([dataset[i] for i in range(rows.start, rows.stop)])
                tokens[rows] = batch["net_input"]["src_tokens"]  # (B, L)
                codes[rows] = self._posterior(tokens[rows])[0]  # (B, Z)
            self._split_codes[split] = (codes, tokens)
        return self._split_codes[split]

    def _generator(self, **generation):
        args = copy.deepcopy(self.cfg.generation)
        with open_dict(args):
            for key, value in generation.items():
                setattr(args, key, value)
        return self.task.build_generator([self.model], args)


def check_texts(texts: Sequence[str]) -> None:
    if isinstance(texts, str) or not texts or not all(isinstance(text, str) for text in texts):
        raise InputError("give a non-empty list of strings, e.g. vae.encode([\"a text\"])")


def check_value(name: str, value: float, range_: Range) -> None:
    complaint = out_of_range(name, value, range_, lead=f"{name}=")  # as the argument is written in Python
    if complaint:
        raise InputError(complaint)


# The name of version 0.1, kept working.
HybridVAE = TextVAEHubInterface
