"""hybrid-vae-prepare: raw UTF-8 text -> sentencepiece units -> fairseq binarized data.

Writes DATA/{train,valid,test}.{bin,idx}, DATA/dict.txt and DATA/spm.model. Each line becomes its
units followed by EOS, which stands for the newline: in window mode the task reads the corpus as one
stream, as the authors did. `--unit char` round-trips the text exactly, spaces included.
"""

import argparse
import html
import logging
import os
import sys
import tempfile
from collections import Counter
from typing import Dict, List

import numpy as np
import sentencepiece as spm
import torch
from fairseq.data import Dictionary, indexed_dataset
from tqdm import tqdm

logger = logging.getLogger("fairseq_hybrid_vae.prepare")

# A piece that cannot be a character: the default "<unk>" would swallow PTB's literal "<unk>".
UNK_PIECE = "<UNK_>"
CHUNK_LINES = 10_000


class PrepareError(Exception):
    """Bad input: reported as one line, and nothing in the destination is touched."""


def normalize_tweet(line: str) -> str:
    """The paper's tweet preprocessing plus HTML unescape and collapsed whitespace."""
    tokens = []
    for token in html.unescape(line).split():
        if token.startswith(("http://", "https://")):
            token = "url"
        elif token.startswith("@"):
            token = "@userid"
        tokens.append(token)
    return " ".join(tokens)


def read_lines(path: str, errors: str) -> List[str]:
    """Lines without their line breaks; undecodable bytes are an error naming the line."""
    lines = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                lines.append(raw.decode("utf-8", errors=errors).rstrip("\r\n"))
            except UnicodeDecodeError as err:
                raise PrepareError(
                    f"{path}: line {number} is not valid UTF-8 ({err.reason} at byte {err.start}): "
                    "convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8) or pass "
                    "--encoding-errors replace"
                ) from None
    return lines


def normalize(lines: List[str], mode: str) -> List[str]:
    if mode == "none":
        return lines
    seen, kept = set(), []
    for line in map(normalize_tweet, lines):
        if line and line not in seen:
            seen.add(line)
            kept.append(line)
    return kept


def split_by_ratio(lines: List[str], ratios: List[float]) -> Dict[str, List[str]]:
    """Contiguous train/valid/test blocks, so no valid line sits between two train lines."""
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
        raise PrepareError(f"--split-ratio {ratios} must be three non-negative numbers summing to 1")
    n_valid, n_test = int(len(lines) * ratios[1]), int(len(lines) * ratios[2])
    n_train = len(lines) - n_valid - n_test
    return {
        "train": lines[:n_train],
        "valid": lines[n_train : n_train + n_valid],
        "test": lines[n_train + n_valid :],
    }


def train_sentencepiece(lines: List[str], model_prefix: str, unit: str, vocab_size: int,
                        character_coverage: float) -> spm.SentencePieceProcessor:
    if any(UNK_PIECE in line for line in lines):
        raise PrepareError(f"the corpus contains the reserved string {UNK_PIECE!r}; remove it")
    if unit == "char":
        vocab_size = len(set("".join(lines))) + 1  # every character, plus the unknown piece
    try:
        _train_sentencepiece(lines, model_prefix, unit, vocab_size, character_coverage)
    except RuntimeError as err:  # e.g. a --vocab-size larger than the corpus supports
        raise PrepareError(f"sentencepiece: {str(err).splitlines()[0]}") from None
    return spm.SentencePieceProcessor(model_file=model_prefix + ".model")


def _train_sentencepiece(lines, model_prefix, unit, vocab_size, character_coverage) -> None:
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
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
        max_sentence_length=1 << 16,
        input_sentence_size=2_000_000,
        shuffle_input_sentence=True,
        num_threads=os.cpu_count() or 1,
        minloglevel=2,
    )


def build_dictionary(sp: spm.SentencePieceProcessor, train_ids: List[List[int]]) -> Dictionary:
    """fairseq's dictionary over the sentencepiece pieces, most frequent first, with train counts."""
    counts = Counter()
    for ids in train_ids:
        counts.update(ids)
    dictionary = Dictionary()
    for sp_id in range(sp.get_piece_size()):
        if sp_id != sp.unk_id():
            dictionary.add_symbol(sp.id_to_piece(sp_id), n=counts[sp_id])
    dictionary.finalize(padding_factor=1)
    return dictionary


def encode(sp: spm.SentencePieceProcessor, lines: List[str], desc: str) -> List[List[int]]:
    """Sentencepiece ids per line, in chunks so long inputs show a progress bar."""
    ids: List[List[int]] = []
    show = len(lines) > 5 * CHUNK_LINES
    for start in tqdm(range(0, len(lines), CHUNK_LINES), desc=desc, unit="chunk", disable=not show):
        ids += sp.encode(lines[start : start + CHUNK_LINES], out_type=int,
                         num_threads=os.cpu_count() or 1)
    return ids


def binarize(ids: List[List[int]], to_fairseq: np.ndarray, eos: int, prefix: str) -> int:
    """fairseq's mmap indexed dataset: one item per line, its units then EOS. Returns #units."""
    builder = indexed_dataset.make_builder(
        indexed_dataset.data_file_path(prefix), impl="mmap", vocab_size=len(to_fairseq) + 4
    )
    units = 0
    for line_ids in ids:
        item = np.append(to_fairseq[np.asarray(line_ids, dtype=np.int64)], eos)
        builder.add_item(torch.from_numpy(item))
        units += len(item)
    builder.finalize(indexed_dataset.index_file_path(prefix))
    return units


def prepare(args: argparse.Namespace) -> None:
    splits: Dict[str, List[str]] = {}
    if args.valid or args.test:
        for split in ("train", "valid", "test"):
            path = getattr(args, split)
            if path:
                splits[split] = normalize(read_lines(path, args.encoding_errors), args.normalize)
    else:
        lines = normalize(read_lines(args.train, args.encoding_errors), args.normalize)
        splits = split_by_ratio(lines, [float(r) for r in args.split_ratio.split(",")])
    if not any(line for line in splits["train"]):
        raise PrepareError(f"{args.train}: no text left for training (empty after --normalize?)")

    os.makedirs(args.destdir, exist_ok=True)
    # Build everything in a scratch folder beside the destination, then move it in: an interrupted
    # run never leaves files that look complete.
    with tempfile.TemporaryDirectory(dir=args.destdir, prefix=".prepare-") as scratch:
        sp = train_sentencepiece(splits["train"], os.path.join(scratch, "spm"), args.unit,
                                 args.vocab_size, args.character_coverage)
        check_round_trip(sp, splits["train"][:2000], args.unit)
        ids = {split: encode(sp, lines, split) for split, lines in splits.items()}
        dictionary = build_dictionary(sp, ids["train"])
        dictionary.save(os.path.join(scratch, "dict.txt"))
        to_fairseq = np.array(
            [dictionary.index(sp.id_to_piece(i)) for i in range(sp.get_piece_size())]
        )
        to_fairseq[sp.unk_id()] = dictionary.unk()
        for split in splits:
            units = binarize(ids[split], to_fairseq, dictionary.eos(), os.path.join(scratch, split))
            unknown = sum(line.count(sp.unk_id()) for line in ids[split])
            logger.info(f"{split}: {len(splits[split])} lines, {units} units "
                        f"(EOS included), {unknown} unknown")
        os.remove(os.path.join(scratch, "spm.vocab"))
        for name in os.listdir(scratch):
            os.replace(os.path.join(scratch, name), os.path.join(args.destdir, name))
    logger.info(f"wrote {args.destdir}: {len(dictionary)} types in dict.txt ({args.unit} units)")


def check_round_trip(sp: spm.SentencePieceProcessor, lines: List[str], unit: str) -> None:
    """Character units must give back the text, except characters left out by --character-coverage."""
    for line in lines:
        ids = sp.encode(line, out_type=int)
        decoded = sp.decode(ids)
        if decoded != line and unit == "char" and sp.unk_id() not in ids:
            same = [a == b for a, b in zip(line, decoded)]
            at = same.index(False) if False in same else len(same)
            raise PrepareError(f"sentencepiece does not round-trip {line!r}: it differs from character "
                               f"{at} on, {line[at:at + 20]!r} -> {decoded[at:at + 20]!r}")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hybrid-vae-prepare",
        description="Train a sentencepiece model on raw UTF-8 text and binarize the text for the "
        "text_vae task (fairseq's mmap format).",
    )
    parser.add_argument("--train", required=True, help="training text, one line per sample/line")
    parser.add_argument("--valid", help="validation text (default: split off --train)")
    parser.add_argument("--test", help="test text (default: split off --train)")
    parser.add_argument("--split-ratio", default="0.9,0.05,0.05",
                        help="train,valid,test fractions when only --train is given; contiguous "
                        "blocks in file order (default: 0.9,0.05,0.05)")
    parser.add_argument("--destdir", required=True, help="output data directory")
    parser.add_argument("--unit", choices=["char", "subword"], default="char",
                        help="char: one unit per character, exact round trip (the paper); "
                        "subword: sentencepiece unigram pieces (needs --vocab-size)")
    parser.add_argument("--vocab-size", type=int, default=8000,
                        help="subword vocabulary size (ignored for --unit char)")
    parser.add_argument("--character-coverage", type=float, default=1.0,
                        help="share of characters kept; rarer ones become <unk> (e.g. 0.9995 "
                        "for tweets with emoji and mojibake)")
    parser.add_argument("--normalize", choices=["none", "tweets"], default="none",
                        help="tweets: @mentions -> @userid, URLs -> url (the paper), HTML unescape, "
                        "collapsed spaces, no blank or duplicate lines")
    parser.add_argument("--encoding-errors", choices=["strict", "replace"], default="strict",
                        help="undecodable bytes: stop with the line number, or replace with U+FFFD")
    return parser


def cli_main(argv: List[str] | None = None) -> None:
    logging.basicConfig(format="%(asctime)s | %(levelname)s | %(name)s | %(message)s",
                        level=logging.INFO, stream=sys.stdout, force=True)
    args = get_parser().parse_args(argv)
    try:
        prepare(args)
    except (PrepareError, OSError) as err:
        sys.exit(f"hybrid-vae-prepare: error: {err}")


if __name__ == "__main__":
    cli_main()
