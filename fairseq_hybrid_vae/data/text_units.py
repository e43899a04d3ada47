"""The units of a prepared data directory: its dictionary's identity, the normalization its text went
through and its sentencepiece text."""

import hashlib
import html
from typing import Callable, Dict

from fairseq.data import Dictionary

from .prepared_files import load_sentencepiece

UNKNOWN_MARK = "\u2047"  # ⁇: sentencepiece's mark for an unknown piece


def dictionary_checksum(dictionary: Dictionary) -> str:
    """What identifies a dictionary: its symbols in order (saved in checkpoints, checked on load)."""
    return hashlib.sha256("\n".join(dictionary.symbols).encode()).hexdigest()[:16]


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


# hybrid-vae-prepare --normalize: what each line of a corpus goes through before its units, and each
# text encoded later for a model trained on it (SentencePieceDecoder.encode).
NORMALIZERS: Dict[str, Callable[[str], str]] = {"none": lambda text: text, "tweets": normalize_tweet}


class SentencePieceDecoder:
    """fairseq's bpe interface: space-separated pieces -> text. Not fairseq's SentencepieceBPE: it strips a
    window's edge spaces and leaves <unk> as five characters. A text is encoded after the normalization
    of the data (a tweet's @mention becomes @userid, as every tweet the model read).
    """

    def __init__(self, model_file: str, dictionary: Dictionary, normalization: str = "none"):
        self.sp = load_sentencepiece(model_file, dictionary)
        self.normalize = NORMALIZERS[normalization]

    def encode(self, text: str) -> str:
        return " ".join(self.sp.encode(self.normalize(text), out_type=str))

    def decode(self, pieces: str) -> str:
        # fairseq's <unk> becomes sentencepiece's own mark: PTB's literal "<unk>" is five units.
        units = [UNKNOWN_MARK if p == "<unk>" else p for p in pieces.split(" ")] if pieces else []
        return self.sp.decode_pieces(units)
