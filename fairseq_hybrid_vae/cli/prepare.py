"""hybrid-vae-prepare: raw UTF-8 text -> sentencepiece units -> fairseq binarized data (DATA/{train,valid,
test}.{bin,idx}, dict.txt, spm.model, normalization.txt). Each line's units end in EOS, the newline;
`--unit char` round-trips the text exactly.
"""

import argparse
import functools
import hashlib
import itertools
import logging
import os
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple

import numpy as np
import sentencepiece as spm
import torch
from fairseq.data import Dictionary, indexed_dataset
from sentencepiece import sentencepiece_model_pb2
from tqdm import tqdm

from ..common.atomic import left_empty_removed_on_failure
from ..common.errors import InputError
from ..common.option_ranges import AT_LEAST_2, Checked, OneLineArgumentParser, PathKind, Range, Validated
from ..data.prepared_files import NORMALIZATION_FILE
from ..data.text_units import NORMALIZERS
from .commands import configure_output

logger = logging.getLogger("fairseq_hybrid_vae.cli.prepare")

# A piece that cannot be a character: the default "<unk>" would swallow PTB's literal "<unk>".
UNK_PIECE = "<UNK_>"
# Lines (or slices of long lines) encoded and written at a time, and at most this many characters: memory
# stays bounded whatever the corpus size and line length.
CHUNK_LINES, CHUNK_CHARACTERS = 10_000, 1 << 24
# Longer lines are read by sentencepiece in slices (`sliced`).
SLICE_CHARACTERS = 1 << 14
# sentencepiece trains on at most this many lines, sampled from the whole training text.
SENTENCEPIECE_SAMPLE_LINES = 500_000
# Inputs at least this large show a progress bar.
PROGRESS_BAR_BYTES = 10 << 20


@dataclass
class Source:
    """One text file, read line by line (each pass reads it again, so nothing grows with its size);
    lines `start` to `stop` of its normalised lines, or characters `start` to `stop` of its one line
    that is not blank."""

    path: str
    encoding_errors: str
    normalization: str
    start: int = 0
    stop: Optional[int] = None
    by_character: bool = False

    def lines(self, progress: str = "") -> Iterator[str]:
        lines = normalized(read_lines(self.path, self.encoding_errors, progress), self.normalization)
        if self.by_character:
            return (line[self.start:self.stop] for line in lines if line)
        return itertools.islice(lines, self.start, self.stop)


CONVERT_TO_UTF8 = "convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)"


# How compressed files open, and the command that decompresses each: read as text, one would be an
# "invalid UTF-8" error (or, with --encoding-errors replace, a corpus of garbage).
COMPRESSED = {b"\x1f\x8b": ("gzip", "gunzip -k"), b"\xfd7zXZ\x00": ("xz", "unxz -k"),
              b"PK\x03\x04": ("zip", "unzip"), b"(\xb5/\xfd": ("zstd", "unzstd"),
              b"BZh": ("bzip2", "bunzip2 -k")}


def check_not_compressed(path: str) -> None:
    with open(path, "rb") as f:
        start = f.read(10)
    for magic, (kind, tool) in COMPRESSED.items():
        # bzip2's 3 bytes, a digit (its block size) and then its block's own magic number
        if start.startswith(magic) and (kind != "bzip2" or start[4:] == b"1AY&SY"):
            raise InputError(f"{path} is {kind}-compressed: decompress it first ({tool} {path})")


def read_lines(path: str, errors: str, progress: str = "",
               fix: str = f"{CONVERT_TO_UTF8} or pass --encoding-errors replace") -> Iterator[str]:
    """Lines without their line breaks; undecodable bytes are an error naming the line and `fix`. A
    progress bar over the file's bytes when `progress` names the pass and the file is large."""
    check_not_compressed(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f, tqdm(total=size, unit="B", unit_scale=True, desc=progress,
                                     disable=not progress or size < PROGRESS_BAR_BYTES) as bar:
        for number, raw in enumerate(f, start=1):
            bar.update(len(raw))
            try:
                # utf-8-sig: a byte order mark opening the file is dropped, not read as a character
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8", errors=errors).rstrip("\r\n")
            except UnicodeDecodeError as err:
                raise InputError(
                    f"{path}: line {number} is not valid UTF-8 ({err.reason} at byte {err.start}): {fix}"
                ) from None


def normalized(lines: Iterator[str], mode: str) -> Iterator[str]:
    """--normalize tweets: normalise each line, drop blank and repeated lines (a 64-bit digest per
    distinct line is kept to find repeats: the one thing that grows with the corpus)."""
    if mode == "none":
        yield from lines
        return
    seen: Set[bytes] = set()
    for line in map(NORMALIZERS[mode], lines):
        digest = hashlib.blake2b(line.encode(), digest_size=8).digest()
        if line and digest not in seen:
            seen.add(digest)
            yield line


def split_ratios(text: str) -> List[float]:
    """--split-ratio: three non-negative fractions summing to 1."""
    try:
        ratios = [float(r) for r in text.split(",")]
    except ValueError:
        ratios = []
    if len(ratios) != 3 or any(not r >= 0 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
        raise InputError(f"{text}: give three non-negative numbers summing to 1, "
                           "e.g. 0.9,0.05,0.05")
    return ratios


def split_ratio_text(text: str) -> str:
    """--split-ratio as an argparse type: checked when the command line is read."""
    try:
        split_ratios(text)
    except InputError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def split_sizes(size: int, ratios: Sequence[float]) -> Dict[str, int]:
    """Lines (or characters) per split: contiguous train/valid/test blocks, so no valid line sits
    between train lines."""
    n_valid, n_test = int(size * ratios[1]), int(size * ratios[2])
    return {"train": size - n_valid - n_test, "valid": n_valid, "test": n_test}


@dataclass
class TrainingTextStats:
    """One pass over the training text: what sentencepiece and the checks need before training."""

    has_text: bool = False
    characters: Set[str] = field(default_factory=set)

    @classmethod
    def of(cls, lines: Iterator[str]) -> "TrainingTextStats":
        stats = cls()
        for line in lines:
            if UNK_PIECE in line:
                raise InputError(f"the corpus contains the reserved string {UNK_PIECE!r}; remove it")
            stats.has_text = stats.has_text or bool(line)
            stats.characters.update(line)
        return stats


def train_sentencepiece(lines: Iterator[str], stats: TrainingTextStats, model_prefix: str, unit: str,
                        vocab_size: int, character_coverage: float) -> spm.SentencePieceProcessor:
    if unit == "char":
        vocab_size = len(stats.characters) + 1  # every character, plus the unknown piece
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=(text for text, _ in sliced(lines)),
            model_prefix=model_prefix,
            model_type="char" if unit == "char" else "unigram",
            vocab_size=vocab_size,
            hard_vocab_limit=unit != "char",
            character_coverage=character_coverage,
            normalization_rule_name="identity",  # exact round trip: no NFKC, no whitespace edits
            remove_extra_whitespaces=False,
            add_dummy_prefix=False,
            unk_id=0,
            unk_piece=UNK_PIECE,
            bos_id=-1,
            eos_id=-1,
            pad_id=-1,
            max_sentence_length=4 * SLICE_CHARACTERS,  # bytes: 4 per character at most
            input_sentence_size=SENTENCEPIECE_SAMPLE_LINES,  # a bounded sample of a large corpus
            shuffle_input_sentence=True,
            num_threads=os.cpu_count() or 1,
            minloglevel=2,
        )
    except RuntimeError as err:  # e.g. a --vocab-size larger than the corpus supports
        raise InputError(f"sentencepiece: {str(err).splitlines()[0]}") from None
    forget_scratch_path(model_prefix + ".model")
    return spm.SentencePieceProcessor(model_file=model_prefix + ".model")


def sliced(lines: Iterator[str], limit: int = SLICE_CHARACTERS) -> Iterator[Tuple[str, bool]]:
    """Each line in slices of at most `limit` characters, each with whether it ends its line. A slice is cut
    before a space where it holds one: sentencepiece reads each space-led word alone, so the slices'
    pieces are the line's. Whole, a long line would be left out of sentencepiece's training, and encoded
    at about 40 bytes a character (4 GB for text8, a corpus on one line)."""
    for line in lines:
        start = 0
        while len(line) - start > limit:
            cut = line.rfind(" ", start + 1, start + limit + 1)  # the next slice starts at this space
            cut = cut if cut > start else start + limit
            yield line[start:cut], False
            start = cut
        yield line[start:], True


def forget_scratch_path(model_file: str) -> None:
    """sentencepiece records the path it wrote to (a random scratch folder) in the model: keep the
    file name alone, so the same text always gives the same spm.model, byte for byte."""
    model = sentencepiece_model_pb2.ModelProto()
    with open(model_file, "rb") as f:
        model.ParseFromString(f.read())
    model.trainer_spec.model_prefix = os.path.basename(model.trainer_spec.model_prefix)
    with open(model_file, "wb") as f:
        f.write(model.SerializeToString())


def encoded_chunks(sp: spm.SentencePieceProcessor,
                   lines: Iterator[str]) -> Iterator[Tuple[List[List[int]], Tuple[bool, ...]]]:
    """Sentencepiece ids of the lines' slices (`sliced`), CHUNK_LINES or CHUNK_CHARACTERS at a time, encoded
    on every core, and whether each slice ends its line."""
    slices = sliced(lines)
    while True:
        chunk, characters = [], 0
        for text, ends_line in slices:
            chunk.append((text, ends_line))
            characters += len(text)
            if len(chunk) == CHUNK_LINES or characters >= CHUNK_CHARACTERS:
                break
        if not chunk:
            return
        texts, ends = zip(*chunk)
        yield sp.encode(list(texts), out_type=int, num_threads=os.cpu_count() or 1), ends


def flat(chunk: List[List[int]]) -> np.ndarray:
    """The ids of a chunk's lines, one after another: (sum of line lengths,)."""
    return np.fromiter(itertools.chain.from_iterable(chunk), dtype=np.int64,
                       count=sum(map(len, chunk)))


def build_dictionary(sp: spm.SentencePieceProcessor, train: Iterator[str]) -> Dictionary:
    """fairseq's dictionary over the sentencepiece pieces, most frequent first, with train counts."""
    counts = np.zeros(sp.get_piece_size(), dtype=np.int64)
    for chunk, _ in encoded_chunks(sp, train):
        counts += np.bincount(flat(chunk), minlength=len(counts))
    dictionary = Dictionary()
    for sp_id in range(sp.get_piece_size()):
        if sp_id != sp.unk_id():
            dictionary.add_symbol(sp.id_to_piece(sp_id), n=int(counts[sp_id]))
    dictionary.finalize(padding_factor=1)
    return dictionary


def binarize(sp: spm.SentencePieceProcessor, lines: Iterator[str], to_fairseq: np.ndarray, eos: int,
             prefix: str) -> Dict[str, int]:
    """One item per line, its units then EOS, in fairseq's mmap format. Returns line, unit and unknown
    counts."""
    dtype = indexed_dataset.best_fitting_int_dtype(len(to_fairseq) + 4)
    builder = indexed_dataset.MMapIndexedDatasetBuilder(indexed_dataset.data_file_path(prefix), dtype)
    to_fairseq = to_fairseq.astype(dtype)  # a line's units are held in the file's dtype until written
    line_end = np.array([eos], dtype)
    counts = {"lines": 0, "units": 0, "unknown": 0}
    line = []  # the units of the line being read, slice by slice
    for chunk, ends in encoded_chunks(sp, lines):
        ids = flat(chunk)  # (N,)
        slice_starts = np.cumsum([len(text) for text in chunk])[:-1]
        for units, ends_line in zip(np.split(to_fairseq[ids], slice_starts), ends):  # slices x (units,)
            line.append(units)
            if ends_line:  # the line's units, then EOS
                builder.add_item(torch.from_numpy(np.concatenate(line + [line_end])))
                line = []
        counts["lines"] += sum(ends)
        counts["units"] += len(ids) + sum(ends)
        counts["unknown"] += int((ids == sp.unk_id()).sum())
    builder.finalize(indexed_dataset.index_file_path(prefix))
    return counts


def prepare(args: argparse.Namespace) -> None:
    source = lambda path, **rows: Source(path, args.encoding_errors, args.normalize, **rows)  # noqa: E731
    if args.valid or args.test:
        splits = {split: source(getattr(args, split)) for split in ("train", "valid", "test")
                  if getattr(args, split)}
    else:
        ratios = split_ratios(args.split_ratio)
        num_lines, text_lines, length = 0, 0, 0  # length: of the last line that is not blank
        for line in source(args.train).lines("counting lines"):
            num_lines += 1
            if line:
                text_lines, length = text_lines + 1, len(line)
        # A corpus on one line (text8; blank lines aside) splits by characters: 0.9,0.05,0.05 is text8's
        # usual split.
        by_character = text_lines == 1
        sizes = split_sizes(length if by_character else num_lines, ratios)
        empty = [split for split, ratio in zip(("valid", "test"), ratios[1:]) if ratio and not sizes[split]]
        if empty and num_lines:  # (no lines at all: "no text left", below)
            size = f"one line of {length} characters" if by_character else f"{num_lines} lines"
            raise InputError(f"{args.train} ({size}) is too short for --split-ratio "
                             f"{args.split_ratio}: {' and '.join(empty)} would be empty; give --valid and "
                             "--test files, or more text")
        part = functools.partial(source, args.train, by_character=by_character)
        splits = {"train": part(stop=sizes["train"]),
                  "valid": part(start=sizes["train"], stop=sizes["train"] + sizes["valid"]),
                  "test": part(start=sizes["train"] + sizes["valid"])}
    stats = TrainingTextStats.of(splits["train"].lines("reading --train"))
    if not stats.has_text:
        raise InputError(f"{args.train}: no text left for training (empty after --normalize?)")

    # Build everything in a scratch folder inside the destination, then move it in: an interrupted
    # run never leaves files that look complete, and a failed one no empty folder it made.
    with left_empty_removed_on_failure([args.destdir]):
        os.makedirs(args.destdir, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=args.destdir, prefix=".prepare-") as scratch:
            sp = train_sentencepiece(splits["train"].lines("sentencepiece"), stats,
                                     os.path.join(scratch, "spm"), args.unit, args.vocab_size,
                                     args.character_coverage)
            check_round_trip(sp, splits["train"].lines(), args.unit)
            dictionary = build_dictionary(sp, splits["train"].lines("counting units"))
            dictionary.save(os.path.join(scratch, "dict.txt"))
            to_fairseq = np.array(
                [dictionary.index(sp.id_to_piece(i)) for i in range(sp.get_piece_size())]
            )
            to_fairseq[sp.unk_id()] = dictionary.unk()
            for split, lines in splits.items():
                counts = binarize(sp, lines.lines(f"binarizing {split}"), to_fairseq, dictionary.eos(),
                                  os.path.join(scratch, split))
                logger.info(f"{split}: {counts['lines']} lines, {counts['units']} units "
                            f"(EOS included), {counts['unknown']} unknown")
            os.remove(os.path.join(scratch, "spm.vocab"))
            with open(os.path.join(scratch, NORMALIZATION_FILE), "w", encoding="utf-8") as f:
                f.write(args.normalize + "\n")
            # A split of an earlier preparation that this one does not replace goes first: its ids
            # follow the old dict.txt.
            for split in sorted({"train", "valid", "test"} - set(splits)):
                stale = [os.path.join(args.destdir, f"{split}.{ext}") for ext in ("bin", "idx")]
                for path in filter(os.path.exists, stale):
                    os.remove(path)
                    logger.warning(f"removed {path}: a split of an earlier preparation, not replaced")
            for name in os.listdir(scratch):
                os.replace(os.path.join(scratch, name), os.path.join(args.destdir, name))
    logger.info(f"wrote {args.destdir}: {len(dictionary)} types in dict.txt ({args.unit} units)")


def check_round_trip(sp: spm.SentencePieceProcessor, lines: Iterator[str], unit: str) -> None:
    """Character units must give back the text (its first 2,000 slices), except characters left out by
    --character-coverage."""
    for line, _ in itertools.islice(sliced(lines), 2000):
        ids = sp.encode(line, out_type=int)
        decoded = sp.decode(ids)
        if decoded != line and unit == "char" and sp.unk_id() not in ids:
            same = [a == b for a, b in zip(line, decoded)]
            at = same.index(False) if False in same else len(same)
            raise InputError(f"sentencepiece does not round-trip {line!r}: it differs from character "
                               f"{at} on, {line[at:at + 20]!r} -> {decoded[at:at + 20]!r}")


def get_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(
        prog="hybrid-vae-prepare",
        description="Train a sentencepiece model on raw UTF-8 text and binarize the text for the "
        "text_vae task (fairseq's mmap format).",
    )
    parser.add_argument("--train", type=PathKind("file"), required=True,
                        help="training text, one line per sample/line")
    parser.add_argument("--valid", type=PathKind("file"), help="validation text (default: split off --train)")
    parser.add_argument("--test", type=PathKind("file"), help="test text (default: split off --train)")
    parser.add_argument("--split-ratio", type=Validated(split_ratio_text, bad="0.9,0.2,0.05"),
                        default="0.9,0.05,0.05",
                        help="train,valid,test fractions when only --train is given; contiguous "
                        "blocks in file order (default: 0.9,0.05,0.05)")
    parser.add_argument("--destdir", type=PathKind("output folder"), required=True,
                        help="output data directory")
    parser.add_argument("--unit", choices=["char", "subword"], default="char",
                        help="char: one unit per character, exact round trip (the paper); "
                        "subword: sentencepiece unigram pieces (needs --vocab-size)")
    parser.add_argument("--vocab-size", type=Checked(int, AT_LEAST_2), default=8000,
                        help="subword vocabulary size (ignored for --unit char)")
    parser.add_argument("--character-coverage", type=Checked(float, Range(low=0, high=1, low_open=True)),
                        default=1.0,
                        help="share of characters kept; rarer ones become <unk> (e.g. 0.9995 "
                        "for tweets with emoji and mojibake)")
    parser.add_argument("--normalize", choices=sorted(NORMALIZERS), default="none",
                        help="tweets: @mentions -> @userid, URLs -> url (the paper), HTML unescape, "
                        "collapsed spaces, no blank or duplicate lines; recorded in the folder, so texts "
                        "encoded for its models later are normalized alike")
    parser.add_argument("--encoding-errors", choices=["strict", "replace"], default="strict",
                        help="undecodable bytes: stop with the line number, or replace with U+FFFD")
    return parser


def cli_main(argv: List[str] | None = None) -> None:
    configure_output()
    args = get_parser().parse_args(argv)
    try:
        prepare(args)
    except (InputError, OSError) as err:
        sys.exit(f"hybrid-vae-prepare: error: {err}")


if __name__ == "__main__":
    cli_main()
