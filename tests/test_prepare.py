"""hybrid-vae-prepare: exact round trip, tweet normalisation, splits and bad input."""

import bz2
import gzip
import lzma
import os

import numpy as np
import pytest
import sentencepiece as spm
from fairseq.data import Dictionary, data_utils

from fairseq_hybrid_vae.cli.prepare import cli_main, sliced
from fairseq_hybrid_vae.data.text_units import normalize_tweet

TEXT = [
    " the <unk> company said N shares rose $ N ",
    "  two  spaces, tabs\tand ünïcödé — quotes \"'\" ",
    "",
    " a <unk> b ",
]


def decode(data_dir: str, split: str) -> list:
    dictionary = Dictionary.load(os.path.join(data_dir, "dict.txt"))
    sp = spm.SentencePieceProcessor(model_file=os.path.join(data_dir, "spm.model"))
    lines = data_utils.load_indexed_dataset(os.path.join(data_dir, split), dictionary)
    out = []
    for i in range(len(lines)):
        ids = lines[i].tolist()
        assert ids[-1] == dictionary.eos()
        out.append(sp.decode_pieces([dictionary[j] for j in ids[:-1]]))
    return out


def test_char_units_round_trip_exactly(tmp_path):
    corpus = tmp_path / "train.txt"
    corpus.write_text("\n".join(TEXT * 5) + "\n", encoding="utf-8")
    cli_main(["--train", str(corpus), "--valid", str(corpus), "--destdir", str(tmp_path / "data")])
    assert sorted(os.listdir(tmp_path / "data")) == [
        "dict.txt", "normalization.txt", "spm.model", "train.bin", "train.idx", "valid.bin", "valid.idx"
    ]
    assert decode(str(tmp_path / "data"), "train") == TEXT * 5


def test_a_byte_order_mark_and_windows_line_breaks_are_not_text(tmp_path):
    """A file saved with a UTF-8 byte order mark and CRLF line breaks gives the units of the same text
    saved plainly: the mark opens the file, it is not a character of its first line."""
    corpus = tmp_path / "train.txt"
    corpus.write_bytes(("\ufeff" + "\r\n".join(TEXT * 5) + "\r\n").encode("utf-8"))
    cli_main(["--train", str(corpus), "--valid", str(corpus), "--destdir", str(tmp_path / "data")])
    assert decode(str(tmp_path / "data"), "train") == TEXT * 5
    assert "\ufeff" not in open(tmp_path / "data" / "dict.txt", encoding="utf-8").read()


def test_preparing_a_folder_again_leaves_no_split_of_the_earlier_preparation(tmp_path):
    """A split the new preparation does not write (no --test this time) would be read with the new
    dict.txt: its file is removed, not left to be evaluated as the new corpus's test split."""
    first, second, data = tmp_path / "first.txt", tmp_path / "second.txt", str(tmp_path / "d")
    first.write_text("hello world\nfoo bar\n", encoding="utf-8")
    second.write_text("zzz yyy\nqqq\n", encoding="utf-8")
    cli_main(["--train", str(first), "--valid", str(first), "--test", str(first), "--destdir", data])
    cli_main(["--train", str(second), "--valid", str(second), "--destdir", data])
    assert sorted(os.listdir(data)) == [
        "dict.txt", "normalization.txt", "spm.model", "train.bin", "train.idx", "valid.bin", "valid.idx"
    ]
    assert decode(data, "valid") == ["zzz yyy", "qqq"]


def test_split_ratio_makes_contiguous_blocks(tmp_path):
    corpus = tmp_path / "all.txt"
    lines = [f"line {i}" for i in range(100)]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cli_main(["--train", str(corpus), "--destdir", str(tmp_path / "d"), "--split-ratio", "0.8,0.1,0.1"])
    assert decode(str(tmp_path / "d"), "train") == lines[:80]
    assert decode(str(tmp_path / "d"), "valid") == lines[80:90]
    assert decode(str(tmp_path / "d"), "test") == lines[90:]


def test_tweet_normalisation():
    assert normalize_tweet("@bob  check https://t.co/x &amp; http://a.b  now&quot;") == (
        "@userid check url & url now\""
    )
    assert normalize_tweet("   ") == ""


def test_tweet_mode_drops_blank_and_duplicate_lines(tmp_path):
    corpus = tmp_path / "tweets.txt"
    corpus.write_text("@a hi\n\n@b hi\nother  one\n", encoding="utf-8")
    cli_main(["--train", str(corpus), "--valid", str(corpus), "--destdir", str(tmp_path / "d"),
              "--normalize", "tweets"])
    assert decode(str(tmp_path / "d"), "train") == ["@userid hi", "other one"]


def test_texts_encoded_for_a_model_are_normalized_as_its_data(tmp_path):
    """--normalize is recorded in the folder, and the task encodes a user's raw tweet as the corpus's
    tweets were (an @mention as @userid, a URL as url, HTML unescaped); a folder prepared before the
    record encodes texts as they are, and a damaged record is one line."""
    from fairseq_hybrid_vae.data.prepared_files import DamagedDataError
    from fairseq_hybrid_vae.tasks.text_vae import TextVAEConfig, TextVAETask

    corpus = tmp_path / "tweets.txt"
    corpus.write_text("@a hi there http://x.y\nother one & more\n", encoding="utf-8")
    raw = ["@bob hi  there https://t.co/z &amp; more"]
    by_hand = [normalize_tweet(raw[0])]

    def task_of(dest):
        return TextVAETask.setup_task(TextVAEConfig(data=str(dest), sample_mode="line", sample_size=64))

    for normalize in ["tweets", "none"]:
        dest = tmp_path / normalize
        cli_main(["--train", str(corpus), "--valid", str(corpus), "--destdir", str(dest),
                  "--normalize", normalize])
        assert (dest / "normalization.txt").read_text() == normalize + "\n"
        task = task_of(dest)
        assert task.encode_texts(raw).equal(task.encode_texts(by_hand)) == (normalize == "tweets")
    (tmp_path / "tweets" / "normalization.txt").unlink()  # as prepared before the record
    task = task_of(tmp_path / "tweets")
    assert not task.encode_texts(raw).equal(task.encode_texts(by_hand))
    (tmp_path / "tweets" / "normalization.txt").write_text("twets\n")
    with pytest.raises(DamagedDataError, match="normalization.txt is damaged .'twets' is not a"):
        task_of(tmp_path / "tweets").encode_texts(raw)


def test_character_coverage_maps_rare_characters_to_unk(tmp_path):
    """Emoji and mojibake left out by --character-coverage become <unk>; the rest round-trips."""
    corpus = tmp_path / "tweets.txt"
    lines = [f"plain tweet number {i}" for i in range(300)] + ["rare \U0001F600 here"]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cli_main(["--train", str(corpus), "--valid", str(corpus), "--destdir", str(tmp_path / "d"),
              "--character-coverage", "0.999"])
    decoded = decode(str(tmp_path / "d"), "valid")
    assert decoded[:300] == lines[:300]
    assert decoded[300] != lines[300] and decoded[300].startswith("rare ")


@pytest.mark.parametrize("unit,blank_lines", [("char", ""), ("subword", ""), ("char", "\n\n")])
def test_a_corpus_on_one_line_is_split_by_characters(tmp_path, unit, blank_lines):
    """A corpus on one line (text8's shape; blank lines after it aside), longer than sentencepiece's
    longest training sentence: --split-ratio cuts its characters into contiguous blocks, each a line
    that decodes back exactly."""
    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(list("abcdefgh"), rng.integers(1, 9))) for _ in range(200)]
    text = " ".join(rng.choice(words, 12_000))  # about 66,000 characters
    corpus = tmp_path / "text8.txt"
    corpus.write_text(text + blank_lines, encoding="utf-8")
    cli_main(["--train", str(corpus), "--destdir", str(tmp_path / "d"), "--unit", unit,
              "--vocab-size", "100"])
    n_valid = n_test = int(len(text) * 0.05)  # the default 0.9,0.05,0.05
    n_train = len(text) - n_valid - n_test
    assert decode(str(tmp_path / "d"), "train") == [text[:n_train]]
    assert decode(str(tmp_path / "d"), "valid") == [text[n_train:n_train + n_valid]]
    assert decode(str(tmp_path / "d"), "test") == [text[n_train + n_valid:]]


@pytest.mark.parametrize("line", ["ab cd " * 20, "x" * 70, "  " * 40, "short"])
def test_long_lines_train_sentencepiece_in_slices_that_keep_every_character(line):
    slices, ends = zip(*sliced(iter([line, "next"]), 16))
    assert "".join(slices[:-1]) == line and slices[-1] == "next"
    assert ends == (False,) * (len(slices) - 2) + (True, True)  # where each line ends
    assert all(0 < len(piece) <= 16 for piece in slices)
    if " " in line[1:]:  # cut before a space: no word is split
        assert all(piece.startswith(" ") for piece in slices[1:-1])


def test_subword_units(tmp_path):
    corpus = tmp_path / "train.txt"
    rng = np.random.default_rng(0)
    words = ["alpha", "beta", "gamma", "delta", "epsilon"]
    lines = [" ".join(rng.choice(words, 6)) for _ in range(300)]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cli_main(["--train", str(corpus), "--valid", str(corpus), "--destdir", str(tmp_path / "d"),
              "--unit", "subword", "--vocab-size", "20"])
    assert decode(str(tmp_path / "d"), "valid") == lines
    assert len(Dictionary.load(str(tmp_path / "d" / "dict.txt"))) <= 20 + 4


@pytest.mark.parametrize(
    "content,flags,message",
    [
        (b"", [], "no text left"),
        (b"ok\n\xff\xfe bad\n", [], "line 2 is not valid UTF-8"),
        (b"ab ab\n" * 50, ["--unit", "subword", "--vocab-size", "500"], "Vocabulary size too high"),
        (b"ab\n", ["--split-ratio", "0.9,x,0.05"], "three non-negative numbers summing to 1"),
        (b"ab\n", ["--split-ratio", "0.9,0.2,0.05"], "three non-negative numbers summing to 1"),
        (b"ab\n" * 10, [], "(10 lines) is too short for --split-ratio 0.9,0.05,0.05: valid and test would"),
        (b"abc", [], "(one line of 3 characters) is too short"),
        (gzip.compress(b"ab ab\n" * 50), [], "bad.txt is gzip-compressed: decompress it first (gunzip -k "),
        (bz2.compress(b"ab ab\n" * 50), [], "bad.txt is bzip2-compressed: decompress it first (bunzip2 -k "),
        (lzma.compress(b"ab ab\n" * 50), ["--encoding-errors", "replace"], "bad.txt is xz-compressed"),
    ],
)
def test_bad_input_is_one_clear_error_and_writes_nothing(tmp_path, content, flags, message):
    corpus = tmp_path / "bad.txt"
    corpus.write_bytes(content)
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["--train", str(corpus), "--destdir", str(tmp_path / "d")] + flags)
    assert message in str(exit_info.value) and "\n" not in str(exit_info.value)
    assert not os.path.exists(tmp_path / "d")  # not even the empty folder


def test_a_failed_run_keeps_a_destination_folder_that_was_there(tmp_path):
    corpus, kept = tmp_path / "train.txt", tmp_path / "mine"
    corpus.write_bytes(b"ab ab\n" * 50)
    kept.mkdir()
    with pytest.raises(SystemExit):
        cli_main(["--train", str(corpus), "--destdir", str(kept), "--unit", "subword", "--vocab-size", "500"])
    assert os.listdir(kept) == []


