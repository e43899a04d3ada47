"""The files of a prepared data folder, read only when they arrived whole.

fairseq's readers meet a damaged file with a numpy traceback or read less than the split holds; these
first check the index's header and length, the data's length and every id against the dictionary.
"""

import os
import struct

import numpy as np
import sentencepiece as spm
from fairseq.data import Dictionary, indexed_dataset
from google.protobuf.message import DecodeError
from sentencepiece import sentencepiece_model_pb2

from ..common.errors import InputError

FIX = "prepare the data again with hybrid-vae-prepare, or copy the folder again"
# fairseq's mmap index: magic (9 bytes), version (<Q), dtype code (<B), number of items (<Q), then
# int32 sizes and int64 byte offsets, one of each per item (fairseq/data/indexed_dataset.py).
INDEX_MAGIC = b"MMIDIDX\x00\x00"
INDEX_HEADER = struct.Struct("<9sQBQ")


# hybrid-vae-prepare's --normalize, one word: texts encoded for the folder's models go through it too.
NORMALIZATION_FILE = "normalization.txt"


class DamagedDataError(InputError):
    """A prepared data file that is truncated or damaged."""

    def __init__(self, path: str, what: str):
        super().__init__(f"{path} is damaged ({what}): {FIX}")


def load_dictionary(path: str, dictionary_class: type = Dictionary) -> Dictionary:
    """dict.txt, as fairseq reads it."""
    try:
        return dictionary_class.load(path)
    except (ValueError, RuntimeError, UnicodeDecodeError) as error:
        raise DamagedDataError(path, " ".join(str(error).split())[:200]) from None


def checked_index(index_path: str):
    """fairseq's reader of an .idx file, once its header and length show it whole."""
    length = os.path.getsize(index_path)
    if length < INDEX_HEADER.size:
        raise DamagedDataError(index_path, f"{length} bytes, shorter than its header")
    with open(index_path, "rb") as f:
        magic, version, _, num_items = INDEX_HEADER.unpack(f.read(INDEX_HEADER.size))
    if magic != INDEX_MAGIC or version != 1:
        raise DamagedDataError(index_path, "not a fairseq mmap index")
    expected = INDEX_HEADER.size + num_items * (4 + 8)
    if length != expected:
        raise DamagedDataError(index_path, f"{length} bytes where its header announces {expected}")
    try:
        return indexed_dataset.MMapIndexedDataset.Index(index_path)
    except KeyError:
        raise DamagedDataError(index_path, "an unknown data type in its header") from None


def load_split(prefix: str, dictionary: Dictionary):
    """PREFIX.bin/.idx as fairseq's MMapIndexedDataset, or None when the split is absent."""
    index_path, data_path = prefix + ".idx", prefix + ".bin"
    if not (os.path.exists(index_path) and os.path.exists(data_path)):
        return None
    index = checked_index(index_path)
    sizes, itemsize = index.sizes.astype(np.int64), np.dtype(index.dtype).itemsize
    offsets = np.fromfile(index_path, dtype=np.int64, count=len(sizes),
                          offset=INDEX_HEADER.size + 4 * len(sizes))  # (N,) byte offsets
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]) * itemsize  # where each item should begin
    if (sizes < 0).any() or not np.array_equal(offsets, starts[: len(sizes)]):
        raise DamagedDataError(index_path, "its sizes and offsets disagree")
    expected, length = int(sizes.sum()) * itemsize, os.path.getsize(data_path)
    if length != expected:
        raise DamagedDataError(data_path, f"{length} bytes where {index_path} announces {expected}")
    dataset = indexed_dataset.MMapIndexedDataset(prefix)
    if length and int(np.memmap(data_path, dtype=index.dtype, mode="r").max()) >= len(dictionary):
        raise DamagedDataError(data_path, f"ids beyond the {len(dictionary)} of its dict.txt")
    return dataset


def load_sentencepiece(path: str, dictionary: Dictionary) -> spm.SentencePieceProcessor:
    """spm.model, the sentencepiece model that turns text into the dictionary's units and back. A
    truncated model can still parse (its fields end early), so it must also hold its normalizer (the
    last field written) and every unit of dict.txt as a piece."""
    if not os.path.isfile(path):
        raise InputError(f"no sentencepiece model at {path}: pass the data folder written by "
                         "hybrid-vae-prepare")
    try:
        sp = spm.SentencePieceProcessor(model_file=path)
        model = sentencepiece_model_pb2.ModelProto.FromString(sp.serialized_model_proto())
    except (RuntimeError, OSError, DecodeError) as error:
        raise DamagedDataError(path, " ".join(str(error).split())[:200]) from None
    if not model.HasField("normalizer_spec"):
        raise DamagedDataError(path, "it ends before its normalizer")
    units = dictionary.symbols[dictionary.nspecial:]  # fairseq's own symbols come first
    unknown = [unit for unit in units if sp.piece_to_id(unit) == sp.unk_id()]
    if unknown:
        raise DamagedDataError(path, f"{len(unknown)} units of its dict.txt are not among its pieces")
    return sp


def load_normalization(data_dir: str, known) -> str:
    """The --normalize a folder was prepared with, one of `known`; "none" for a folder prepared before
    the plugin recorded it."""
    path = os.path.join(data_dir, NORMALIZATION_FILE)
    if not os.path.isfile(path):
        return "none"
    with open(path, encoding="utf-8", errors="replace") as f:
        name = f.read().strip()
    if name not in known:
        raise DamagedDataError(path, f"{name[:20]!r} is not a normalization: {', '.join(sorted(known))}")
    return name
