"""Reproduce the paper's Tables 1 and 2 on real tweets: LSTM VAE (p 0.2, 0.5, 0.8) vs Hybrid (alpha 0.2).

    python examples/tweets/reproduce.py --scale cpu --tweets TWEETS_DIR
    python examples/tweets/reproduce.py --table-only        # rebuild the tables from results/

Data: every tweet file under --tweets (Sentiment140 and TweetEval), shuffled with a fixed seed,
normalised as the paper (@userid, url) plus HTML unescape, duplicates dropped; 10,000 valid and
10,000 test tweets. Line mode, L = 128: tweets of at most 127 characters plus their end symbol,
padded with more end symbols (--line-padding eos), so rec and KL are nats per tweet summed over all
128 positions, as the paper's Table 2. Per grid, in results/<scale>-<cell>/: curves.csv (training
curves), evaluations.json (hybrid-vae-eval on valid per run: rec, KL, IW-NLL, MI, AU) and
prior_samples.json (10 greedy prior samples per run, Table 1); results/table2-<scale>-<cell>.md
gathers them. <cell> is --lstm-cell: the
plugin's default, or `authors` for the paper's cell.
"""

import argparse
import glob
import math
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from grid import EVALUATIONS, REPO, Run, evaluate, kept, read_results, run_grid  # noqa: E402

from fairseq_hybrid_vae.modules import DEFAULT_LSTM_CELL, LSTM_CELLS  # noqa: E402

BIN = os.path.join(REPO, ".venv", "bin")
USER_DIR = os.path.join(REPO, "fairseq_hybrid_vae")
PAPER_TABLE2 = {"LSTM VAE, p 0.2": (67.4, 1.0), "LSTM VAE, p 0.5": (77.1, 2.1),
                "LSTM VAE, p 0.8": (93.7, 3.8), "Hybrid, alpha 0.2": (58.5, 12.5)}
TASK = ["--sample-size", "128", "--sample-mode", "line", "--line-padding", "eos", "--long-lines", "drop"]
# An epoch of tweets is ~7,800 updates of 32, longer than a CPU run: checkpoints are written every
# validation instead, so a stopped run resumes from its last one.
SCALES = {
    "cpu": {  # 2,500 updates per run: 10-20 minutes each on 2 cores
        "common": TASK + ["--batch-size", "32", "--max-update", "2500", "--optimizer", "adam",
                          "--lr", "1e-3", "--num-workers", "0", "--cpu",
                          "--validate-interval-updates", "1000", "--save-interval-updates", "1000",
                          "--keep-interval-updates", "1"],
        "hybrid": ("hybrid_vae_lstm", ["--latent-dim", "32", "--encoder-channels", "64,128,256",
                   "--decoder-feature-dim", "100", "--lstm-hidden-size", "256",
                   "--kl-weight-floor", "0.001", "--kl-anneal-start", "800", "--kl-anneal-updates", "900"]),
        "lstm_vae": ("lstm_vae", ["--latent-dim", "32", "--lstm-hidden-size", "256",
                     "--kl-weight-floor", "0", "--kl-anneal-start", "500", "--kl-anneal-updates", "1200",
                     "--clip-norm", "100"]),
        "eval": ["--max-samples", "500", "--iw-samples", "50"],
    },
    "paper": {  # the authors' Twitter schedule for the hybrid; the LSTM VAE as on PTB
        "common": TASK + ["--batch-size", "32", "--max-update", "100000", "--optimizer", "adam",
                          "--lr", "1e-3", "--num-workers", "2", "--validate-interval-updates", "5000",
                          "--save-interval-updates", "5000", "--keep-interval-updates", "1"],
        "hybrid": ("hybrid_vae_lstm_tweets", ["--lr-scheduler", "step", "--warmup-updates",
                   "69000", "--warmup-init-lr", "1e-3", "--lr-deacy-period", "1000", "--lr-decay", "0.95",
                   "--kl-weight-floor", "0.001", "--kl-anneal-start", "50000",
                   "--kl-anneal-updates", "10000"]),
        "lstm_vae": ("lstm_vae_tweets", ["--kl-weight-floor", "0", "--kl-anneal-start", "10000",
                     "--kl-anneal-updates", "7000", "--clip-norm", "100"]),
        "eval": ["--iw-samples", "500"],
    },
}


def grid(scale: str):
    (lstm_arch, lstm_flags), (hybrid_arch, hybrid_flags) = SCALES[scale]["lstm_vae"], SCALES[scale]["hybrid"]
    runs = [Run(f"lstmvae-p{p}", lstm_arch, lstm_flags + ["--input-dropout", str(p)],
                {"model": f"LSTM VAE, p {p}"}) for p in [0.2, 0.5, 0.8]]
    runs.append(Run("hybrid-alpha0.2", hybrid_arch, hybrid_flags + ["--alpha", "0.2"],
                    {"model": "Hybrid, alpha 0.2"}))
    return runs


def prepare(tweets: str, data: str, work: str) -> None:
    """All tweet files in one shuffled file, then hybrid-vae-prepare (normalise, dedupe, split)."""
    paths = sorted(glob.glob(os.path.join(tweets, "**", "*.txt"), recursive=True))
    if not paths:
        sys.exit(f"no .txt files under {tweets}: pass the folder of tweet files (one tweet per line)")
    lines = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            lines += [line.rstrip("\n") for line in f]
    random.Random(1).shuffle(lines)  # one source per block otherwise (valid = one sentiment)
    os.makedirs(work, exist_ok=True)
    corpus = os.path.join(work, "tweets.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    share = round(10_000 / len(lines), 6)  # about 10k valid and 10k test tweets after deduplication
    subprocess.run([os.path.join(BIN, "hybrid-vae-prepare"), "--train", corpus, "--destdir", data,
                    "--normalize", "tweets", "--character-coverage", "0.9995",
                    "--split-ratio", f"{1 - 2 * share:.6f},{share:.6f},{share:.6f}"], check=True)


PRIOR_SAMPLES = "prior_samples.json"  # Table 1: 10 greedy prior samples per run


def evaluate_and_sample(run: Run, data: str, save_dir: str, results: str, eval_flags) -> None:
    evaluate(data, save_dir, results, run.name, eval_flags)
    checkpoint = os.path.join(save_dir, "checkpoint_last.pt")

    def samples() -> list:
        out = subprocess.run([os.path.join(BIN, "fairseq-generate"), data, "--user-dir", USER_DIR,
                              "--task", "text_vae", *TASK[:4], "--path", checkpoint, "--gen-mode", "prior",
                              "--gen-subset", "prior",
                              "--num-samples", "10", "--beam", "1", "--batch-size", "10", "--cpu",
                              "--seed", "1"], capture_output=True, text=True, check=True)
        rows = sorted((int(line.split("\t")[0][2:]), line.split("\t")[-1])
                      for line in out.stdout.splitlines() if line.startswith("D-"))
        return [text for _, text in rows]

    kept(results, PRIOR_SAMPLES, run.name, samples)


def mean_units(data: str, split: str = "valid") -> float:
    """Characters plus the end symbol per kept tweet (L = 128) of a split."""
    from fairseq.data import data_utils

    dataset = data_utils.load_indexed_dataset(os.path.join(data, split), None)
    sizes = dataset.sizes.copy()  # a view of the index's mmap, closed with the dataset
    return float(sizes[sizes <= 128].mean())


def table(runs, results: str, data: str) -> str:
    units = mean_units(data) if os.path.exists(os.path.join(data, "valid.idx")) else float("nan")
    lines = ["| model | rec (nats/tweet) | KL (nats/tweet) | ELBO bits/char | IW-NLL bits/char | MI (nats) "
             "| active units | paper rec / KL |", "|---|---|---|---|---|---|---|---|"]
    count = 0
    for run in runs:
        result = kept(results, EVALUATIONS, run.name)
        if result is None:
            continue
        nats, count = result["nats_per_sample"], result["samples"]
        elbo, iw_nll = (nats[key] / units / math.log(2) for key in ["elbo", "iw_nll"])
        paper_rec, paper_kl = PAPER_TABLE2[run.labels["model"]]
        lines.append(
            f"| {run.labels['model']} | {nats['rec']:.1f} | {nats['kl']:.1f} | {elbo:.3f} "
            f"| {iw_nll:.3f} | {round(result['mutual_information_nats'], 2) + 0.0:.2f} "
            f"| {result['active_units']} of {result['latent_dim']} | {paper_rec} / {paper_kl} |"
        )
    note = (
        f"Valid split, first {count} tweets. bits/char: nats per tweet / ln 2 / {units:.1f}, the mean "
        "units (characters + end symbol) of a valid tweet."
    )
    return "\n".join(lines) + "\n\n" + note + "\n"


def plot(runs, rows, path: str) -> None:
    """Validation curves: rec and KL in nats per tweet (the bits/unit of the log times 128 ln 2)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    to_nats = 128 * math.log(2)
    for run in runs:
        curve = [(int(r["num_updates"]), float(r["rec"]) * to_nats, float(r["kl_nats"])) for r in rows
                 if r["run"] == run.name and r["split"] == "valid"]
        if curve:
            axes[0].plot([c[0] for c in curve], [c[1] for c in curve], "o-", label=run.labels["model"])
            axes[1].plot([c[0] for c in curve], [c[2] for c in curve], "o-", label=run.labels["model"])
    axes[0].set(xlabel="updates", ylabel="valid rec (nats per tweet)", title="reconstruction")
    axes[1].set(xlabel="updates", ylabel="valid KL (nats per tweet)", title="KL")
    for axis in axes:
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.suptitle("Table 2 runs on tweets (L = 128, line mode)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=list(SCALES), default="cpu")
    parser.add_argument("--tweets", help="folder of tweet .txt files (for the first run)")
    parser.add_argument(
        "--work",
        default=os.path.join(REPO, "runs", "reproduce-tweets"),
        help="prepared data and checkpoints (not committed)",
    )
    parser.add_argument("--table-only", action="store_true")
    parser.add_argument("--runs", help="comma-separated run names: train only these (e.g. to split the "
                        "grid over two processes or machines); the table still shows every finished run")
    parser.add_argument("--lstm-cell", choices=list(LSTM_CELLS), default=DEFAULT_LSTM_CELL,
                        help="the cell of every LSTM; the paper's is 'authors' (results: <scale>-<cell>)")
    args = parser.parse_args()
    runs = grid(args.scale)
    train = [r for r in runs if not args.runs or r.name in args.runs.split(",")]
    name = f"{args.scale}-{args.lstm_cell}"
    results = os.path.join(HERE, "results", name)
    data = os.path.join(args.work, "data-bin")
    if not args.table_only:
        if not os.path.exists(os.path.join(data, "dict.txt")):
            if not args.tweets:
                sys.exit("no prepared data yet: pass --tweets FOLDER (.txt files, one tweet per line)")
            prepare(args.tweets, data, args.work)
        s = SCALES[args.scale]
        work = os.path.join(args.work, name)
        run_grid(train, data, results, work, s["common"] + ["--lstm-cell", args.lstm_cell])
        for run in train:
            evaluate_and_sample(run, data, os.path.join(work, run.name), results, s["eval"])
    plot(runs, read_results(results, [r.name for r in runs]), results + ".png")
    text = table(runs, results, data)
    with open(os.path.join(HERE, "results", f"table2-{name}.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
