"""Task `text_vae`: fixed-length samples of L units for training and evaluating text VAEs."""

import contextlib
import copy
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch
from fairseq import utils
from fairseq.data import Dictionary, ListDataset
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.models import ARCH_MODEL_REGISTRY
from fairseq.tasks import FairseqTask, register_task
from omegaconf import II, OmegaConf, open_dict

from ..common.compat import keep_freed_memory, why_not_bf16
from ..common.errors import InputError, MissingInputError
from ..common.option_ranges import (
    AT_LEAST_1,
    AT_LEAST_2,
    FINITE,
    NON_NEGATIVE,
    POSITIVE,
    Range,
    check_options,
    option_name,
    out_of_range,
    shown,
    wrong_kind,
)
from ..data import InterpolationDataset, LineDataset, PriorDataset, WindowDataset
from ..data.prepared_files import load_dictionary, load_normalization, load_split
from ..data.text_units import (
    NORMALIZERS,
    UNKNOWN_MARK,
    SentencePieceDecoder,
    WindowDictionary,
    dictionary_checksum,
)
from ..models.text_vae_model import fill_in_old_options
from ..modules import interpolate_latents, reparameterize
from .distributed import average_batch_norm_statistics
from .parallel_generator import ParallelGenerator
from .window_generator import WindowSequenceGenerator

logger = logging.getLogger(__name__)

# Task options that shape the samples, saved in every checkpoint and refused where generation or
# evaluation differs: a line-mode model given lines padded with PAD instead of the EOS it was trained
# on still decodes, only worse. line_padding matters only where lines are encoded (not prior mode).
ENCODER_INPUT_OPTIONS = ("sample_mode", "line_padding")

# fairseq-generate's options that the task's generators (and the Python API's keyword arguments) read.
GENERATION_RANGES = {
    "beam": AT_LEAST_1,
    "nbest": AT_LEAST_1,
    "temperature": POSITIVE,  # divides the logits
    "sampling_topk": Range(low=1, off=-1),
    "sampling_topp": Range(low=0, high=1, low_open=True, off=-1),
}


def check_generation_options(args) -> None:
    """Each of GENERATION_RANGES in its range, and no more hypotheses asked for than the beam keeps."""
    for name, range_ in GENERATION_RANGES.items():
        value = getattr(args, name, None)
        complaint = None if value is None else out_of_range(name, value, range_)
        if complaint:
            raise InputError(complaint)
    if getattr(args, "nbest", 1) > getattr(args, "beam", 1):
        raise InputError(f"--nbest {args.nbest} is more than --beam {args.beam}: the beam keeps "
                         f"{args.beam} hypotheses; raise --beam or lower --nbest")


@dataclass
class TextVAEConfig(FairseqDataclass):
    data: Optional[str] = field(
        default=None,
        metadata={"help": "data directory written by hybrid-vae-prepare: "
                  "{train,valid,test}.{bin,idx}, dict.txt, spm.model"},
    )
    sample_size: int = field(
        default=60, metadata={"range": AT_LEAST_1, "help": "units (characters or subwords) per sample: L"}
    )
    sample_mode: ChoiceEnum(["window", "line"]) = field(
        default="window",
        metadata={"help": "window: fixed-length windows of the corpus as one stream (PTB); "
                  "line: one line per sample, EOS then padding to L (tweets)"},
    )
    windows_per_epoch: int = field(
        default=64000,
        metadata={"range": AT_LEAST_1,
                  "help": "window mode: random training windows per epoch (the authors: 1000 "
                  "batches of 64); redrawn every epoch from --seed"},
    )
    long_lines: ChoiceEnum(["drop", "truncate"]) = field(
        default="drop",
        metadata={"help": "line mode: lines longer than L units (EOS included) are dropped or "
                  "truncated to L"},
    )
    line_padding: ChoiceEnum(["pad", "eos"]) = field(
        default="pad",
        metadata={"help": "line mode: pad: positions after a line's EOS are padding, not scored "
                  "(numbers per character); eos: lines are padded with more EOS symbols, which are "
                  "scored, so a sample's loss sums over all L positions (the paper's tweet numbers)"},
    )
    gen_mode: ChoiceEnum(["reconstruct", "prior", "interpolate", "steer"]) = field(
        default="reconstruct",
        metadata={"help": "fairseq-generate: reconstruct the --gen-subset (S- input, D- output); "
                  "decode z ~ N(0, t^2 I) (with --gen-subset prior); interpolate between the "
                  "posterior means of consecutive pairs of the --gen-subset (S- start, T- end); or "
                  "steer: decode each posterior mean + --steer-amount x --steer-vector"},
    )
    steer_vector: Optional[str] = field(
        default=None,
        metadata={"help": "steer mode: a latent direction saved by `hybrid-vae-latent vector` (a .pt "
                  "tensor of the latent size), e.g. positive minus negative texts"},
    )
    steer_amount: float = field(
        default=1.0, metadata={"range": FINITE, "help": "steer mode: how far along --steer-vector to move"}
    )
    num_samples: int = field(
        default=100,
        metadata={"range": AT_LEAST_1,
                  "help": "prior mode: how many z to draw (rows of --gen-subset prior)"}
    )
    prior_temperature: float = field(
        default=1.0,
        metadata={"range": NON_NEGATIVE,
                  "help": "prior mode: z ~ N(0, t^2 I) with this t (0: the mean)"}
    )
    posterior_sample: bool = field(
        default=False,
        metadata={"help": "reconstruct mode: decode a sample of q(z|x) instead of its mean"},
    )
    interpolate_steps: int = field(
        default=5,
        metadata={"range": AT_LEAST_2,
                  "help": "interpolate mode: points per pair, both ends included"}
    )
    interpolate: ChoiceEnum(["lerp", "slerp"]) = field(
        default="lerp", metadata={"help": "interpolate mode: straight line or spherical path"}
    )
    bf16_autocast: bool = field(
        default=False,
        metadata={"help": "run the forward (and so the backward) pass under bf16 autocast: matmuls and "
                  "convolutions in bf16, weights, optimizer and loss in fp32; faster where the device "
                  "has bf16 matrix units (a GPU, or a CPU with AMX or AVX512-BF16). Elsewhere one "
                  "warning line, and fp32"},
    )
    seed: int = II("common.seed")


@register_task("text_vae", dataclass=TextVAEConfig)
class TextVAETask(FairseqTask):
    """Random windows (or lines) for training; every unit of valid/test scored exactly once."""

    memory_kept = False  # keep_freed_memory was decided on, once per process (the first update)

    def __init__(self, cfg: TextVAEConfig, dictionary: Dictionary):
        super().__init__(cfg)
        self.dictionary = dictionary
        # Saved in every checkpoint (task_state), so a model never meets a dictionary it was not
        # trained with: same size but other symbols would silently scramble its outputs. Nor samples
        # of another shape (ENCODER_INPUT_OPTIONS).
        self.state.merge_state_dict({"dictionary_checksum": dictionary_checksum(dictionary),
                                     **{name: str(getattr(cfg, name)) for name in ENCODER_INPUT_OPTIONS}})
        self._sentencepiece = None  # the data's sentencepiece model, loaded once (build_bpe)
        self.bf16_on = {}  # device type -> whether --bf16-autocast runs there (decided once, see autocast)

    def load_state_dict(self, state_dict) -> None:
        trained_with = state_dict.get("dictionary_checksum")
        if trained_with is not None and trained_with != self.state.dictionary_checksum:
            data = utils.split_paths(self.cfg.data)[0]
            raise InputError(
                f"{os.path.join(data, 'dict.txt')} ({len(self.dictionary)} types) is not the dictionary "
                "this model was trained with: pass the data directory the checkpoint was trained on, "
                "or data binarized with its dict.txt and spm.model"
            )
        # fairseq-generate builds the task from its command line, not from the checkpoint; checkpoints
        # from before these were saved are not checked.
        lines_encoded = self.cfg.sample_mode == "line" and self.cfg.gen_mode != "prior"
        compared = ENCODER_INPUT_OPTIONS if lines_encoded else ("sample_mode",)
        for name in compared:
            trained_with, given = state_dict.get(name), str(getattr(self.cfg, name))
            if trained_with is not None and trained_with != given:
                flag = option_name(name)
                raise InputError(f"{flag} {given} differs from the checkpoint's {trained_with}: pass {flag} "
                                 f"{trained_with} (its encoder was trained on samples made that way)")
        super().load_state_dict(state_dict)

    @classmethod
    def setup_task(cls, cfg: TextVAEConfig, **kwargs):
        check_options(cfg, TextVAEConfig)
        paths = utils.split_paths(cfg.data or "")
        dict_path = os.path.join(paths[0], "dict.txt") if paths else "dict.txt"
        if not os.path.isfile(dict_path):
            raise MissingInputError(
                f"no dictionary at {dict_path}: pass the data directory written by "
                "hybrid-vae-prepare (it holds dict.txt, spm.model and the binarized splits)"
            )
        window = cfg.sample_mode == "window"  # EOS inside a sample: a line break, shown in records
        dictionary = load_dictionary(dict_path, WindowDictionary if window else Dictionary)
        logger.info(f"dictionary: {len(dictionary)} types")
        return cls(cfg, dictionary)

    def build_model(self, cfg, from_checkpoint: bool = False):
        model_class = ARCH_MODEL_REGISTRY.get(getattr(cfg, "arch", None) or getattr(cfg, "_name", None))
        model_config_class = getattr(model_class, "__dataclass", None)  # a string: not name-mangled
        if from_checkpoint:  # before fairseq fills what is missing with today's defaults
            fill_in_old_options(cfg, model_config_class)
        if model_config_class is not None:
            check_options(cfg, model_config_class)
        trained_with = getattr(cfg, "sample_size", None)
        if from_checkpoint and trained_with is not None and trained_with != self.cfg.sample_size:
            raise InputError(f"--sample-size {self.cfg.sample_size} differs from the checkpoint's "
                             f"{trained_with}: pass --sample-size {trained_with} (its decoder writes "
                             f"{trained_with} units)")
        return super().build_model(cfg, from_checkpoint)

    def load_dataset(self, split: str, epoch: int = 1, combine: bool = False, **kwargs):
        """For training, random windows (or shuffled lines), redrawn each epoch; for any other reader
        (validation, fairseq-generate, hybrid-vae-eval, the Python API), consecutive windows (or lines in
        file order), each unit once, whatever the split."""
        L, pad, bos = self.cfg.sample_size, self.dictionary.pad(), self.dictionary.bos()
        if split == "prior":
            if self.cfg.gen_mode != "prior":
                raise InputError("--gen-subset prior holds no text to encode: add --gen-mode prior")
            self.datasets[split] = PriorDataset(self.cfg.num_samples, L, pad, bos)
            return
        paths = utils.split_paths(self.cfg.data)  # several directories: one per epoch, in turn
        data_dir = paths[(epoch - 1) % len(paths)]
        prefix = os.path.join(data_dir, split)
        lines = load_split(prefix, self.dictionary)
        if lines is None:
            raise MissingInputError(
                f"split '{split}' not found: no {prefix}.bin/.idx; prepare it with "
                "hybrid-vae-prepare or choose another split (--valid-subset, --gen-subset, --split)"
            )
        # fairseq's trainer loads the split it trains on (--train-subset) with combine=True, and every
        # other reader without; only "valid" also comes with it (--combine-valid-subsets).
        training = combine and split != "valid"
        if self.cfg.sample_mode == "window":
            stream = np.concatenate([lines[i].numpy() for i in range(len(lines))])
            num_windows = self.cfg.windows_per_epoch if training else None
            dataset = WindowDataset(stream, L, pad, bos, num_windows, self.cfg.seed, epoch)
            logger.info(f"{split}: {len(stream)} units, {len(dataset)} windows of {L}")
        else:
            seed = self.cfg.seed if training else None
            dataset = LineDataset(lines, L, pad, bos, self.dictionary.eos(), self.cfg.long_lines,
                                  shuffle_seed=seed, fill_with_eos=self.cfg.line_padding == "eos")
            dataset.set_epoch(epoch)
            logger.info(
                f"{split}: {len(dataset)} lines of at most {L} units "
                f"({dataset.num_dropped} longer lines dropped, {dataset.num_truncated} truncated)"
            )
        if self.cfg.gen_mode == "interpolate" and not training:
            dataset = InterpolationDataset(dataset, self.cfg.interpolate_steps)
        if len(dataset) == 0:
            raise InputError(
                f"split '{split}' yields no samples of {L} units: use a smaller --sample-size "
                "or --long-lines truncate"
            )
        self.datasets[split] = dataset

    def has_sharded_data(self, split: str) -> bool:
        # Makes fairseq reload the training set each epoch (fresh random windows, reshuffled lines)
        # even when its data-loader workers persist and hold an old copy of the dataset.
        return split == "train"

    def autocast(self, model) -> contextlib.AbstractContextManager:
        """bf16 autocast on the model's device with --bf16-autocast where the device has bf16 units;
        decided (and any warning given) once per device."""
        if not self.cfg.bf16_autocast:
            return contextlib.nullcontext()
        device_type = next(model.parameters()).device.type
        if device_type not in self.bf16_on:
            why_not = why_not_bf16(device_type)
            if why_not:
                logger.warning(f"--bf16-autocast: {why_not}: running in fp32")
            self.bf16_on[device_type] = why_not is None
        return torch.autocast(device_type, dtype=torch.bfloat16, enabled=self.bf16_on[device_type])

    def use_bf16_autocast(self, on: bool) -> None:
        """--bf16-autocast for inference from a checkpoint (hybrid-vae-eval, the Python API), whatever
        the model was trained with. Set here, not passed as an arg override: fairseq drops overrides
        of keys a checkpoint's config lacks, as those older than the option do."""
        with open_dict(self.cfg):
            self.cfg.bf16_autocast = on

    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        if not self.memory_kept:  # decided at the first update of the process, whatever the device
            TextVAETask.memory_kept = True
            kept = next(model.parameters()).is_cpu and keep_freed_memory()  # docs/benchmarks.md, on a CPU
            if kept:
                logger.info(kept)
        with self.autocast(model):  # backward follows the dtypes the forward recorded
            return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)

    def valid_step(self, sample, model, criterion):
        with self.autocast(model):
            return super().valid_step(sample, model, criterion)

    def optimizer_step(self, optimizer, model, update_num):
        optimizer.step()
        average_batch_norm_statistics(model)

    def inference_step(self, generator, models, sample, prefix_tokens=None, constraints=None):
        """Choose z per --gen-mode, then let fairseq's generator decode it from the start symbol."""
        if len(models) != 1:
            raise InputError("generation from an ensemble is not supported: each VAE has its own z")
        datasets = self.datasets.values()
        if self.cfg.gen_mode == "prior" and not all(isinstance(d, PriorDataset) for d in datasets):
            # fairseq-generate would print each row's text as S- beside a decoding that never read it
            raise InputError("--gen-mode prior decodes draws of z, not the texts of a split: add "
                             "--gen-subset prior (and --num-samples N)")
        with torch.no_grad(), self.autocast(models[0]):
            sample["net_input"]["z"] = self.latent_codes(models[0], sample)
            # fairseq 0.12's DiverseBeamSearch indexes its per-sentence state by sample["id"], dataset
            # indices where it needs positions in the batch (an IndexError from the second batch on).
            positions = {**sample, "id": torch.arange(sample["net_input"]["src_tokens"].size(0))}
            hypotheses = generator.generate(models, positions, prefix_tokens=prefix_tokens,
                                            constraints=constraints, bos_token=self.dictionary.bos())
        if self.cfg.gen_mode != "interpolate":
            # The target is the input itself: fairseq-generate, which reads it after this step, would
            # print it again as T- lines and score the VAE's outputs against it with BLEU. Interpolation
            # keeps it: there T- is the path's other end.
            sample["target"] = None
        return hypotheses

    def latent_codes(self, model, sample) -> torch.Tensor:
        """z (B, Z): prior draws, or the posterior mean (or a sample) of each input."""
        encoder = model.encoder
        src_tokens = sample["net_input"]["src_tokens"]
        if self.cfg.gen_mode == "prior":
            z = torch.randn(src_tokens.size(0), encoder.latent_dim, device=src_tokens.device)
            return z * self.cfg.prior_temperature
        mu, logvar = encoder.posterior(src_tokens)
        if self.cfg.gen_mode == "steer":
            return mu + self.cfg.steer_amount * self.steer_vector(mu)
        if self.cfg.gen_mode == "interpolate":
            end, _ = encoder.posterior(sample["net_input"]["interpolate_to"])
            weight = sample["net_input"]["interpolate_weight"]
            return interpolate_latents(mu, end, weight, self.cfg.interpolate)
        return reparameterize(mu, logvar) if self.cfg.posterior_sample else mu

    def steer_vector(self, mu: torch.Tensor) -> torch.Tensor:
        """--steer-vector, loaded once with torch's safe loader: (Z,), on mu's device."""
        if not hasattr(self, "_steer_vector"):
            self._steer_vector = load_latent_vector(self.cfg.steer_vector, mu.size(1), "--steer-vector")
        return self._steer_vector.to(mu)

    def build_generator(self, models, args, seq_gen_cls=None, extra_gen_cls_kwargs=None, **kwargs):
        """fairseq's generators for the heads; one parallel pass for a historyless decoder.

        In window mode EOS is a line break inside the sample, not its end, so the generators end each
        hypothesis with <s> instead (never predicted: it is no target) after exactly L units, and score
        it on those units (WindowSequenceGenerator); a reconstruction then covers the whole window, not
        only the text before its first line break.
        """
        check_generation_options(args)
        window = self.cfg.sample_mode == "window"
        end = self.dictionary.bos() if window else self.dictionary.eos()
        if window:
            check_window_lengths(args, self.cfg.sample_size)
        if all(getattr(m.decoder, "historyless", False) for m in models):
            return ParallelGenerator(
                self.target_dictionary, sampling=getattr(args, "sampling", False),
                sampling_topk=getattr(args, "sampling_topk", -1),
                temperature=getattr(args, "temperature", 1.0), eos=end,
                match_source_len=getattr(args, "match_source_len", False),
            )
        args = copy.deepcopy(args)
        with open_dict(args) if OmegaConf.is_config(args) else contextlib.nullcontext():
            if window:
                args.min_len = args.max_len_b = self.cfg.sample_size
            elif all(getattr(args, name, LENGTH_DEFAULTS[name]) == LENGTH_DEFAULTS[name]
                     for name in ("max_len_a", "max_len_b")):
                # fairseq's default length limit (200) would cut samples of more units: allow all L.
                args.max_len_b = max(200, self.cfg.sample_size)
        if not window:
            check_line_lengths(args, self.cfg.sample_size)
        extra_gen_cls_kwargs = {**(extra_gen_cls_kwargs or {}), "eos": end}
        if window and seq_gen_cls is None:
            seq_gen_cls = WindowSequenceGenerator
        return super().build_generator(models, args, seq_gen_cls, extra_gen_cls_kwargs, **kwargs)

    def build_bpe(self, args=None) -> SentencePieceDecoder:
        """The data's sentencepiece model (loaded once): it detokenizes fairseq-generate's S-/T-/D- lines
        and encodes texts (encode_texts)."""
        if self._sentencepiece is None:
            folder = utils.split_paths(self.cfg.data)[0]
            self._sentencepiece = SentencePieceDecoder(os.path.join(folder, "spm.model"), self.dictionary,
                                                       load_normalization(folder, NORMALIZERS))
        return self._sentencepiece

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """(B, L): each text's units padded to L as in training (more EOS with --line-padding eos), after
        the normalization the data was prepared with (hybrid-vae-prepare --normalize); in
        line mode an EOS ends the text, in window mode every line break is an EOS (a window is cut from
        running text). A text longer than L units is cut to L, with a log line that says so."""
        windows, L, eos = self.cfg.sample_mode == "window", self.cfg.sample_size, self.dictionary.eos()
        fill = eos if not windows and self.cfg.line_padding == "eos" else self.dictionary.pad()
        sentencepiece = self.build_bpe()
        tokens = torch.full((len(texts), L), fill, dtype=torch.long)
        unknown, rows_with_unknown = Counter(), set()  # units the dictionary lacks, read as <unk>
        for row, text in enumerate(texts):
            units = []
            for line in text.split("\n") if windows else [text]:
                pieces = [p for p in sentencepiece.encode(line).split(" ") if p]
                # UNKNOWN_MARK is how a decoded <unk> reads (to_text, a data split's text): read back
                # as the <unk> it was, not news to warn of
                missing = [p for p in pieces if p not in self.dictionary.indices and p != UNKNOWN_MARK]
                if missing:
                    unknown.update(missing)
                    rows_with_unknown.add(row)
                units += [self.dictionary.index(p) for p in pieces] + [eos]
            if windows:
                units.pop()  # the last line's EOS: the text ends where it ends
            if len(units) > L:
                # logged, not warnings.warn: no fixed stacklevel finds the caller's line through
                # torch.no_grad's wrapper and the methods that encode, and a command prints it as one
                # line; quoted by its start too, as fairseq-interactive numbers texts per buffer read
                logger.warning(f"text {row} ({shown_start(text)!r}) has {len(units)} units"
                               f"{'' if windows else ' with its EOS'}, more than the model's L = {L}: only "
                               f"its first {L} are encoded")
            units = units[:L]
            tokens[row, : len(units)] = torch.tensor(units, dtype=torch.long)
        if unknown:  # e.g. capitals for a PTB model, emoji left out by --character-coverage
            first = min(rows_with_unknown)
            listed = ", ".join(f"{piece!r} x{n}" for piece, n in unknown.most_common(UNKNOWN_SHOWN))
            logger.warning(f"{len(rows_with_unknown)} of {len(texts)} texts hold units the model's "
                           f"dictionary lacks, each read as <unk>: {listed} (first in text {first}, "
                           f"{shown_start(texts[first])!r})")
        return tokens

    def get_interactive_tokens_and_lengths(self, lines, encode_fn):
        """fairseq-interactive: each line typed is a text, encoded as the Python API encodes one (the
        data's sentencepiece model: --bpe and --tokenizer would not find the units the model read)."""
        return list(self.encode_texts(lines)), [self.cfg.sample_size] * len(lines)

    def build_dataset_for_inference(self, src_tokens, src_lengths, **kwargs) -> LineDataset:
        """fairseq-interactive's samples: each of src_tokens (L,) as it is."""
        if self.cfg.gen_mode in ("prior", "interpolate"):
            raise InputError(f"--gen-mode {self.cfg.gen_mode} does not read typed lines one by one: run "
                             "hybrid-vae-generate (docs/results.md), or reconstruct or steer here")
        return LineDataset(ListDataset(src_tokens, sizes=src_lengths), self.cfg.sample_size,
                           self.dictionary.pad(), self.dictionary.bos(), self.dictionary.eos())

    def eval_lm_dataloader(self, *args, **kwargs):
        """fairseq-eval-lm: refused in a line naming the plugin's evaluation (fairseq's own command ended
        in an AttributeError: this task is no language-modeling task)."""
        raise InputError("fairseq-eval-lm does not evaluate text_vae models: run hybrid-vae-eval DATA --path "
                         "CHECKPOINT (rec, KL, ELBO and IW-NLL in bits per unit; for a model without z, "
                         "its exact NLL)")

    def max_positions(self):
        return (self.cfg.sample_size, self.cfg.sample_size)

    @property
    def source_dictionary(self) -> Dictionary:
        return self.dictionary

    @property
    def target_dictionary(self) -> Dictionary:
        return self.dictionary


TEXT_SHOWN = 24  # characters of a text quoted in a warning about it
UNKNOWN_SHOWN = 10  # unknown units listed in a warning, the most frequent first


def shown_start(text: str) -> str:
    return text if len(text) <= TEXT_SHOWN else text[:TEXT_SHOWN] + "..."


LENGTH_DEFAULTS = {"min_len": 1, "max_len_a": 0, "max_len_b": 200}  # fairseq-generate's length options


def check_window_lengths(args, sample_size: int) -> None:
    """A window decodes to its L units: fairseq's length options would only contradict that (and
    --match-source-len's search would hold back EOS, a line break inside a window)."""
    for name, default in {**LENGTH_DEFAULTS, "match_source_len": False}.items():
        value = getattr(args, name, default)
        if value != default:
            given = option_name(name) + ("" if isinstance(value, bool) else f" {value}")
            raise InputError(f"{given}: in window mode every sample decodes "
                             f"to exactly its L = {sample_size} units; drop the option (or train "
                             "with --sample-mode line for samples that end at EOS)")


def check_line_lengths(args, sample_size: int) -> None:
    """A line ends at its EOS, no sooner than --min-len and at most max_len_a x L + max_len_b units
    on, and never past L (the decoder's last position): refused where no length is left."""
    min_len, max_len_a, max_len_b = (getattr(args, name, d) for name, d in LENGTH_DEFAULTS.items())
    longest = min(int(max_len_a * sample_size + max_len_b), sample_size)
    if min_len > longest:
        raise InputError(f"--min-len {min_len} is more than the longest sample allowed, {longest} units "
                         f"(--max-len-a {shown(max_len_a)} x L + --max-len-b {max_len_b}, at most "
                         f"L = {sample_size}): lower --min-len or raise --max-len-b")


def load_latent_vector(path: Optional[str], latent_dim: int, option: str) -> torch.Tensor:
    """A latent direction (Z,) saved with torch.save, checked against the model's latent size."""
    if not path:  # only --steer-vector: hybrid-vae-latent's --vector is a required argument
        raise InputError(f"--gen-mode steer needs {option}: give the .pt file written by `hybrid-vae-latent "
                         "vector`")
    complaint = wrong_kind(path, "file")
    if complaint:
        raise InputError(f"{option} {complaint} (the .pt written by `hybrid-vae-latent vector`)")
    vector = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(vector, torch.Tensor) or tuple(vector.shape) != (latent_dim,):
        shape = tuple(vector.shape) if isinstance(vector, torch.Tensor) else type(vector).__name__
        raise InputError(f"{option} {path} holds {shape}, not a vector of the model's latent size "
                         f"{latent_dim}: make it with this model")
    return vector.float()
