"""Steering through z on a toy whose two classes are the same sentences in lower and in upper case:
the attribute vector (upper minus lower) turns lower-case inputs into upper case, amount 0 keeps them."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import PACKAGE_DIR, run_generate, run_train, synthetic_lines, unescaped

from fairseq_hybrid_vae import TextVAEHubInterface
from fairseq_hybrid_vae.cli.latent import cli_main as latent_cli
from fairseq_hybrid_vae.common.errors import InputError

pytestmark = pytest.mark.float_sensitive  # scripts/test.sh runs these again one instruction set down

BIN = os.path.dirname(sys.executable)


def toy_lines(n: int, seed: int):
    rng = np.random.default_rng(seed)
    return [line.upper() if rng.random() < 0.5 else line for line in synthetic_lines(n, seed)]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """(data dir, checkpoint, valid lines) of a historyless hybrid trained 200 updates on the toy."""
    from fairseq_hybrid_vae.cli.prepare import cli_main as prepare

    root = tmp_path_factory.mktemp("toy")
    for split, n, seed in [("train", 800, 0), ("valid", 100, 1)]:
        (root / f"{split}.txt").write_text("\n".join(toy_lines(n, seed)) + "\n")
    prepare(["--train", str(root / "train.txt"), "--valid", str(root / "valid.txt"), "--destdir",
             str(root / "data")])
    run_train(str(root / "data"), str(root / "ckpt"), "hybrid_vae_feedforward", [
        "--sample-mode", "line", "--sample-size", "32", "--kl-weight", "0.3", "--batch-size", "32",
        "--max-update", "200", "--encoder-channels", "32,64", "--decoder-feature-dim", "32",
        "--disable-validation"])
    return str(root / "data"), root / "ckpt" / "checkpoint_last.pt", toy_lines(100, 1)


@pytest.fixture(scope="module")
def vae(toy):
    data, checkpoint, _ = toy
    return TextVAEHubInterface.from_pretrained(str(checkpoint.parent), checkpoint.name,
                                               data_name_or_path=data)


def classes(lines):
    return [t for t in lines if t.isupper()], [t for t in lines if t.islower()]


def test_the_attribute_vector_steers_lower_case_to_upper_case(vae, toy):
    upper, lower = classes(toy[2])
    vector = vae.attribute_vector(upper, lower)
    assert vector.shape == (8,)
    kept = vae.steer(lower, vector, amount=0.0)
    steered = vae.steer(lower, vector, amount=2.0)
    assert kept == vae.reconstruct(lower)  # amount 0 is the reconstruction
    assert np.mean([out == text for out, text in zip(kept, lower)]) >= 0.9
    assert np.mean([out.isupper() for out in steered]) >= 0.8
    assert np.mean([out.isupper() for out in vae.steer(lower, -vector, amount=2.0)]) == 0  # the other way


def test_mean_posterior_is_the_mean_of_the_posterior_means(vae, toy):
    texts = toy[2][:10]
    mu, _ = vae.encode(texts)
    assert torch.allclose(vae.mean_posterior(texts, batch_size=3), mu.mean(dim=0), atol=1e-6)


def test_analogy_carries_the_case_over(vae):
    a, b, c = "a dog eats a mouse.", "A DOG EATS A MOUSE.", "my bird sees the fish."
    out = vae.analogy(a, b, c)
    mu, _ = vae.encode([a, b, c])
    assert out == vae.decode((mu[2] + mu[1] - mu[0])[None])[0]
    letters = [char for char in out if char.isalpha()]
    assert np.mean([char.isupper() for char in letters]) >= 0.5, out  # c itself reconstructs in lower case


def test_neighbours_find_the_text_itself_first(vae, toy):
    text = toy[2][3]
    found = vae.neighbours(text, k=3, split="valid")
    assert len(found) == 3 and found[0][0] == text and found[0][1] < 1e-4
    assert [d for _, d in found] == sorted(d for _, d in found)


def test_fairseq_generate_steer_mode(toy, vae, tmp_path):
    data, checkpoint, lines = toy
    upper, lower = classes(lines)
    torch.save(vae.attribute_vector(upper, lower), tmp_path / "upper.pt")
    out = run_generate(data, str(checkpoint), ["--gen-subset", "valid", "--sample-mode", "line",
                                               "--sample-size", "32", "--beam", "1", "--gen-mode", "steer",
                                               "--steer-vector", str(tmp_path / "upper.pt"),
                                               "--steer-amount", "2"])
    decoded = {line.split("\t")[0][2:]: line.split("\t")[-1] for line in out if line.startswith("D-")}
    assert len(decoded) == len(lines)
    assert np.mean([decoded[str(i)].isupper() for i, t in enumerate(lines) if t.islower()]) >= 0.8
    torch.save(torch.zeros(3), tmp_path / "wrong.pt")
    with pytest.raises(InputError, match="not a vector of the model's latent size 8"):
        run_generate(data, str(checkpoint), ["--gen-subset", "valid", "--sample-mode", "line",
                                             "--sample-size", "32", "--gen-mode", "steer",
                                             "--steer-vector", str(tmp_path / "wrong.pt")])


def test_the_map_is_the_pca_of_the_posterior_means(toy, vae, tmp_path, capsys):
    data, checkpoint, lines = toy
    (tmp_path / "labels.txt").write_text("\n".join("upper" if t.isupper() else "lower" for t in lines) + "\n")
    latent_cli(["map", data, "--path", str(checkpoint), "--split", "valid", "--labels",
                str(tmp_path / "labels.txt"), "--out", str(tmp_path / "map.png"), "--coords",
                str(tmp_path / "coords.tsv")])
    assert (tmp_path / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = [line.split("\t") for line in (tmp_path / "coords.tsv").read_text().splitlines()]
    points = np.array([[float(x), float(y)] for x, y, _ in rows])
    codes = vae.split_codes("valid")[0].numpy()
    centred = codes - codes.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ components[:2].T  # PCA by hand; each axis is defined up to its sign
    for axis in range(2):
        assert np.allclose(np.abs(points[:, axis]), np.abs(expected[:, axis]), atol=1e-3)
    is_upper = np.array([label == "upper" for _, _, label in rows])
    first = points[:, 0]  # the classes lie apart along the first component
    gap = abs(first[is_upper].mean() - first[~is_upper].mean())
    assert gap > np.sqrt((first[is_upper].var() + first[~is_upper].var()) / 2)


def test_the_cli_writes_a_vector_and_steers(toy, tmp_path):
    data, checkpoint, lines = toy
    upper, lower = classes(lines)
    (tmp_path / "upper.txt").write_text("\n".join(upper) + "\n")
    (tmp_path / "lower.txt").write_text("\n".join(lower[:5]) + "\n")

    def run(*args):
        command = [os.path.join(BIN, "hybrid-vae-latent"), *args, data, "--path", str(checkpoint), "--cpu"]
        return subprocess.run(command, capture_output=True, text=True, timeout=300)

    made = run("vector", "--with", str(tmp_path / "upper.txt"), "--without", str(tmp_path / "lower.txt"),
               "--out", str(tmp_path / "v.pt"))
    assert made.returncode == 0, made.stderr[-2000:]
    (tmp_path / "upper_blank.txt").write_text("\n\n".join(upper) + "\n \n\n")  # blank lines are no texts
    made = run("vector", "--with", str(tmp_path / "upper_blank.txt"),
               "--without", str(tmp_path / "lower.txt"), "--out", str(tmp_path / "v_blank.pt"))
    assert made.returncode == 0, made.stderr[-2000:]
    assert f"{len(upper) + 1} blank line(s) skipped" in made.stderr
    assert torch.equal(torch.load(tmp_path / "v_blank.pt"), torch.load(tmp_path / "v.pt"))
    steered = run("steer", "--vector", str(tmp_path / "v.pt"), "--input", str(tmp_path / "lower.txt"),
                  "--amounts", "0,2")
    assert steered.returncode == 0, steered.stderr[-2000:]
    assert all(line[:2] in ("S-", "D-") for line in steered.stdout.splitlines()), steered.stdout
    d_lines = [line.split("\t") for line in steered.stdout.splitlines() if line.startswith("D-")]
    assert [(amount) for _, amount, _ in d_lines] == ["0", "2"] * 5
    (tmp_path / "lower_blank.txt").write_text("\n".join(lower[:2]) + "\n\n" + "\n".join(lower[2:5]) + "\n")
    skipped = run("steer", "--vector", str(tmp_path / "v.pt"), "--input", str(tmp_path / "lower_blank.txt"),
                  "--amounts", "0,2")
    assert skipped.stdout == steered.stdout and "1 blank line(s) skipped" in skipped.stderr
    (tmp_path / "long.txt").write_text(lower[0] + "\n" + " ".join(lower) + "\n")  # the second is > L
    cut = run("steer", "--vector", str(tmp_path / "v.pt"), "--input", str(tmp_path / "long.txt"),
              "--amounts", "0,1,2")
    warned = [line for line in (cut.stdout + cut.stderr).splitlines() if "more than the model's L" in line]
    assert len(warned) == 1 and "text 1 (" in warned[0], cut.stderr[-2000:]  # once, not once per amount
    bad = run("steer", "--vector", str(tmp_path / "v.pt"), "--input", str(tmp_path / "lower.txt"),
              "--amounts", "1,x")
    assert bad.returncode == 1 and "argument --amounts: 1,x" in bad.stderr and "Traceback" not in bad.stderr
    assert PACKAGE_DIR


@pytest.mark.parametrize("line_padding", ["pad", "eos"])
def test_texts_become_the_units_the_data_path_gives(vae, toy, line_padding):
    """The API's units of a text equal the task's for the same line, with either --line-padding."""
    from omegaconf import open_dict

    with open_dict(vae.task.cfg):
        vae.task.cfg.line_padding = line_padding
    vae._split_codes.clear()
    try:
        _, tokens = vae.split_codes("valid")
        assert torch.equal(vae.to_tokens(toy[2]), tokens)
    finally:
        with open_dict(vae.task.cfg):
            vae.task.cfg.line_padding = "pad"
        vae._split_codes.clear()


def test_split_codes_are_each_samples_posterior_mean_in_order(vae, toy):
    """Filled batch by batch into one tensor, the last batch short: each row as encode gives it."""
    vae._split_codes.clear()
    try:
        codes, tokens = vae.split_codes("valid", batch_size=7)
        assert len(toy[2]) % 7 and codes.shape == (len(toy[2]), 8)
        torch.testing.assert_close(codes, vae.encode(toy[2])[0], atol=1e-5, rtol=1e-5)
        assert torch.equal(tokens, vae.to_tokens(toy[2]))
    finally:
        vae._split_codes.clear()


def test_reconstruction_accuracy_counts_characters_at_their_position(vae, toy):
    """hybrid-vae-eval's accuracy against a count over the decoded strings (one unit per character,
    plus the end of line, which matches when the lengths agree)."""
    from fairseq_hybrid_vae.cli.evaluate import evaluate

    lines = toy[2]
    result = evaluate(vae.model, vae.task, vae.cfg, "valid", iw_samples=2, iw_chunk=2, batch_size=16,
                      max_samples=None, diversity_samples=0)["reconstruction"]
    decoded = vae.reconstruct(lines)
    hits = sum(sum(a == b for a, b in zip(out, text)) + (len(out) == len(text))
               for out, text in zip(decoded, lines))
    assert result["accuracy"] == pytest.approx(hits / sum(len(text) + 1 for text in lines))
    assert result["accuracy"] > 0.9 and result["prior_accuracy"] < 0.7 * result["accuracy"]
    assert result["blank"] == 0 and result["non_blank_samples"] == len(lines)


def test_a_record_is_one_line_whatever_its_text_holds():
    """A window's decoded text holds line breaks (its EOS units); its record escapes them, and tabs,
    and the escapes undo to the text."""
    from fairseq_hybrid_vae.data.text_units import one_line

    text = "the end\nof a line\tand a \\n that was typed"
    record = f"D-0\t1\t{one_line(text)}"
    assert record.splitlines() == [record] and record.count("\t") == 2
    assert unescaped(record.split("\t")[2]) == text


def test_text_files_are_read_as_prepare_reads_a_corpus(tmp_path):
    """A byte order mark is not part of the first text; undecodable bytes are one error naming the line."""
    from fairseq_hybrid_vae.cli.latent import read_texts

    (tmp_path / "marked.txt").write_bytes("\ufeffi love it\r\nno\r\n".encode("utf-8"))
    assert read_texts(str(tmp_path / "marked.txt")) == ["i love it", "no"]
    (tmp_path / "blank.txt").write_text("a\n\n  \nb\n")
    assert read_texts(str(tmp_path / "blank.txt")) == ["a", "", "  ", "b"]  # labels: one per line, kept
    assert read_texts(str(tmp_path / "blank.txt"), skip_blank=True) == ["a", "b"]
    (tmp_path / "latin1.txt").write_bytes("ok\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.txt: line 2 is not valid UTF-8 .*: convert the file"):
        read_texts(str(tmp_path / "latin1.txt"))
