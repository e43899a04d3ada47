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


class WindowDictionary(Dictionary):
    """A window model's dictionary. In a window, EOS is a line break inside the text, not its end:
    fairseq's string() (every S-/D- record of fairseq-generate) keeps it for the decoder to show, where
    it would drop it and glue the words on either side of the break together."""

    def string(self, tensor, *args, include_eos: bool = True, **kwargs) -> str:
        return super().string(tensor, *args, include_eos=True, **kwargs)


def one_line(text: str) -> str:
    """A text as one field of one record: its line breaks (a window's EOS units) and tabs escaped, so
    that each S-/D- record stays on one line for grep and cut."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


class SentencePieceDecoder:
    """fairseq's bpe interface: space-separated pieces -> text. Not fairseq's SentencepieceBPE: it strips a
    window's edge spaces and leaves <unk> as five characters. A text is encoded after the normalization
    of the data (a tweet's @mention becomes @userid, as every tweet the model read).
    """

    def __init__(self, model_file: str, dictionary: Dictionary, normalization: str = "none"):
        self.sp = load_sentencepiece(model_file, dictionary)
        self.eos = dictionary.eos_word
        self.normalize = NORMALIZERS[normalization]

    def encode(self, text: str) -> str:
        return " ".join(self.sp.encode(self.normalize(text), out_type=str))

    def text(self, pieces: str) -> str:
        """Space-separated pieces (Dictionary.string's) -> text; an EOS piece is a line break."""
        lines = [[]]
        for piece in pieces.split(" ") if pieces else []:
            if piece == self.eos:
                lines.append([])
            else:  # fairseq's <unk> becomes sentencepiece's own mark: PTB's literal "<unk>" is five units
                lines[-1].append(UNKNOWN_MARK if piece == "<unk>" else piece)
        return "\n".join(map(self.sp.decode_pieces, lines))

    def decode(self, pieces: str) -> str:
        """fairseq's interface, for fairseq-generate's and -interactive's records: the text on one line."""
        return one_line(self.text(pieces))
