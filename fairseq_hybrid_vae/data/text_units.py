"""The units of a prepared data directory: its dictionary's identity and its sentencepiece text."""

import hashlib

from fairseq.data import Dictionary

from .prepared_files import load_sentencepiece

UNKNOWN_MARK = "\u2047"  # ⁇: sentencepiece's mark for an unknown piece


def dictionary_checksum(dictionary: Dictionary) -> str:
    """What identifies a dictionary: its symbols in order (saved in checkpoints, checked on load)."""
    return hashlib.sha256("\n".join(dictionary.symbols).encode()).hexdigest()[:16]


class SentencePieceDecoder:
    """fairseq's bpe interface: space-separated pieces -> text. Not fairseq's SentencepieceBPE: it strips a
    window's edge spaces and leaves <unk> as five characters.
    """

    def __init__(self, model_file: str, dictionary: Dictionary):
        self.sp = load_sentencepiece(model_file, dictionary)

    def encode(self, text: str) -> str:
        return " ".join(self.sp.encode(text, out_type=str))

    def decode(self, pieces: str) -> str:
        # fairseq's <unk> becomes sentencepiece's own mark: PTB's literal "<unk>" is five units.
        units = [UNKNOWN_MARK if p == "<unk>" else p for p in pieces.split(" ")] if pieces else []
        return self.sp.decode_pieces(units)
