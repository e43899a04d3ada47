"""A prepared data folder that arrived truncated or damaged: every reader of each file kind stops with
one line naming the file and the fix, and reads nothing less than the split holds."""

import os
import shutil

import pytest
import torch
from conftest import run_train, train_flags
from test_bad_input import cli, one_line_error

from fairseq_hybrid_vae.data.prepared_files import (
    FIX,
    DamagedDataError,
    load_dictionary,
    load_sentencepiece,
    load_split,
)


def truncate(path, keep: float):
    data = open(path, "rb").read()
    open(path, "wb").write(data[: int(len(data) * keep)])


def overwrite(path, offset: int, junk: bytes):
    data = bytearray(open(path, "rb").read())
    data[offset: offset + len(junk)] = junk
    open(path, "wb").write(bytes(data))


def cut_dictionary_at_a_line_end(path):
    lines = open(path).read().splitlines(keepends=True)
    open(path, "w").write("".join(lines[: len(lines) // 2]))


def cut_dictionary_inside_a_line(path):
    text = open(path).read()
    open(path, "w").write(text[: text.index(" ", len(text) // 2)])  # a symbol without its count


# (file, damage, what the line says). Each damage is what a cut-off or corrupted copy leaves.
DAMAGES = {
    "bin truncated": ("valid.bin", lambda p: truncate(p, 0.5), "bytes where"),
    "bin with extra bytes": ("valid.bin", lambda p: open(p, "ab").write(b"\0" * 64), "bytes where"),
    "bin with ids beyond the dictionary": ("valid.bin", lambda p: overwrite(p, 10, b"\xff\xff"),
                                           "ids beyond"),
    "idx truncated": ("valid.idx", lambda p: truncate(p, 0.7), "bytes where its header announces"),
    "idx cut inside its header": ("valid.idx", lambda p: truncate(p, 0.0) or open(p, "ab").write(b"MMID"),
                                  "shorter than its header"),
    "idx offsets overwritten": ("valid.idx", lambda p: overwrite(p, os.path.getsize(p) - 16, b"\x07" * 8),
                                "sizes and offsets disagree"),
    "idx header overwritten": ("valid.idx", lambda p: overwrite(p, 0, b"garbage!"),
                               "not a fairseq mmap index"),
    "dict.txt cut at a line end": ("dict.txt", cut_dictionary_at_a_line_end, "ids beyond"),
    "dict.txt cut inside a line": ("dict.txt", cut_dictionary_inside_a_line, "dict.txt is damaged"),
    "spm.model truncated": ("spm.model", lambda p: truncate(p, 0.5), "spm.model is damaged"),
    "spm.model cut before its end": ("spm.model", lambda p: truncate(p, 0.9), "spm.model is damaged"),
    "spm.model overwritten": ("spm.model", lambda p: overwrite(p, 0, b"\xff" * 40), "spm.model is damaged"),
}


def load_everything(data: str):
    """What every command reads of a data folder: the dictionary, a split, the sentencepiece model."""
    dictionary = load_dictionary(os.path.join(data, "dict.txt"))
    split = load_split(os.path.join(data, "valid"), dictionary)
    load_sentencepiece(os.path.join(data, "spm.model"), dictionary)
    return [split[i] for i in range(len(split))]


@pytest.fixture
def damaged_copy(tiny_data, tmp_path):
    def make(kind: str) -> str:
        data = str(tmp_path / "data")
        shutil.copytree(tiny_data, data)
        file, damage, _ = DAMAGES[kind]
        damage(os.path.join(data, file))
        return data

    return make


def test_the_intact_folder_reads_whole(tiny_data):
    lines = load_everything(tiny_data)
    assert sum(len(line) for line in lines) == os.path.getsize(os.path.join(tiny_data, "valid.bin")) // 2


@pytest.mark.parametrize("kind", DAMAGES)
def test_each_damage_is_named_with_its_file_and_the_fix(damaged_copy, kind):
    data = damaged_copy(kind)
    file, _, says = DAMAGES[kind]
    with pytest.raises(DamagedDataError) as error:
        load_everything(data)
    message = str(error.value)
    assert os.path.basename(message.split(" ")[0]) in {file, "valid.bin", "valid.idx"}, message
    assert says in message and message.endswith(FIX), message


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    save_dir = tmp_path_factory.mktemp("trained")
    run_train(tiny_data, str(save_dir), "hybrid_vae_lstm", ["--max-update", "3", "--no-epoch-checkpoints"])
    return str(save_dir / "checkpoint_last.pt")


def model_flags(checkpoint):
    return ["--task", "text_vae", "--sample-size", "16", "--path", checkpoint, "--cpu"]


# Each command that reads a data folder, with a damage it meets first.
COMMANDS = {
    "hybrid-vae-train": ("bin truncated", "valid.bin",
                         lambda data, ckpt, save: train_flags(data, save, "hybrid_vae_lstm",
                                                              ["--max-update", "2"])),
    "hybrid-vae-generate": ("spm.model truncated", "spm.model",
                            lambda data, ckpt, save: [data, *model_flags(ckpt), "--gen-subset", "valid",
                                                      "--beam", "1"]),
    "hybrid-vae-validate": ("idx truncated", "valid.idx",
                            lambda data, ckpt, save: [data, *model_flags(ckpt), "--valid-subset", "valid",
                                                      "--batch-size", "8"]),
    "hybrid-vae-eval": ("dict.txt cut inside a line", "dict.txt",
                        lambda data, ckpt, save: [data, "--path", ckpt, "--cpu", "--iw-samples", "2"]),
    "hybrid-vae-latent": ("bin with ids beyond the dictionary", "valid.bin",
                          lambda data, ckpt, save: ["neighbours", data, "--path", ckpt, "--split", "valid",
                                                    "--k", "2", "the cat"]),
}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_ends_in_one_line_and_keeps_the_checkpoint(damaged_copy, trained, tmp_path, command):
    kind, file, flags = COMMANDS[command]
    data = damaged_copy(kind)
    save = tmp_path / "save"
    save.mkdir()
    shutil.copy(trained, save / "checkpoint_last.pt")
    before = (save / "checkpoint_last.pt").read_bytes()
    line = one_line_error(cli(command, flags(data, trained, str(save))), os.path.join(data, file), FIX)
    assert line.startswith(f"{command}: error: "), line
    assert (save / "checkpoint_last.pt").read_bytes() == before
    assert sorted(os.listdir(save)) == ["checkpoint_last.pt"]


def test_the_python_api_names_the_damaged_file(damaged_copy, trained):
    from fairseq_hybrid_vae import TextVAEHubInterface

    data = damaged_copy("dict.txt cut inside a line")
    with pytest.raises(DamagedDataError, match="dict.txt is damaged"):
        TextVAEHubInterface.from_pretrained(os.path.dirname(trained), "checkpoint_last.pt",
                                            data_name_or_path=data)
    assert torch.load(trained, weights_only=True)["model"]  # the checkpoint itself untouched
