"""Train tweets hybrids whose z carries the tweet, and compare them by bound and reconstruction together.

    python examples/tweets/latent.py --tweets TWEETS_DIR            # train what is missing, then the table
    python examples/tweets/latent.py --runs fb1.5                   # one candidate
    python examples/tweets/latent.py --table-only

Every candidate is the CPU-scale hybrid of reproduce.py (z = 32, LSTM 256, conv encoder 64-128-256)
with what the quickstart's rounds found keeps information in z: free bits (nats per latent dimension
below which the KL is not penalised), alpha falling from 1 (the historyless term pushes the tweet
into z first), Adam's learning rate falling linearly to 0, bf16 autocast where the processor has it.
A second stage (`less_free_bits`) trains a finished candidate on with fewer free bits: the first stage
fills every dimension of z to its free bits whether the decoder uses them or not, the second gives
back what it uses least.
Per candidate: the valid bound and KL (hybrid-vae-eval, first 500 valid tweets, K = 50, as Table 2),
how much of a tweet its greedy reconstruction keeps (difflib's ratio, first 500 test tweets, 1 =
identical), and the training time. Output: results/latent-candidates.md beside the baseline (the
CPU-scale hybrid of Table 2, 2,500 updates).
"""

import argparse
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from grid import EVALUATIONS, Run, evaluate, kept, read_results, run_grid  # noqa: E402
from reproduce import SCALES, mean_units, prepare  # noqa: E402
from steer import RECONSTRUCTED_TWEETS, reconstruction_kept  # noqa: E402

from fairseq_hybrid_vae.common.atomic import atomic_open  # noqa: E402
from fairseq_hybrid_vae.modules import DEFAULT_LSTM_CELL  # noqa: E402


def schedule(updates: int) -> list:
    """Adam from 2e-3 falling linearly to 0 at the last update, bf16 autocast, 4 validations."""
    every = str(updates // 4 if updates > 3000 else 1000)  # validate and save
    return ["--max-update", str(updates), "--lr", "2e-3", "--lr-scheduler", "polynomial_decay",
            "--end-learning-rate", "0", "--power", "1", "--total-num-update", str(updates),
            "--validate-interval-updates", every, "--save-interval-updates", every, "--bf16-autocast"]


SCHEDULE = schedule(3000)  # about 6 minutes per candidate on 2 cores in bf16


SECOND_STAGE_UPDATES = 4000  # about 9.5 minutes on 2 cores in bf16


def less_free_bits(free_bits: float, updates: int = SECOND_STAGE_UPDATES) -> list:
    """A second stage: the parent trained on with fewer free bits, Adam from 5e-4 (where the parent's
    schedule stopped) falling to 0, KL weight 1 and alpha 0.2 throughout."""
    return schedule(updates) + ["--lr", "5e-4", "--free-bits", str(free_bits), "--kl-weight", "1",
                                "--alpha", "0.2"]


ALPHA_FALLS = ["--alpha", "1", "--alpha-anneal-start", "1000", "--alpha-anneal-updates", "1000"]
HYBRID = SCALES["cpu"]["hybrid"][1]  # z = 32, LSTM 256, encoder 64-128-256, KL weight 0.001 -> 1
BYTENET = ["--head-layers", "3", "--head-channels", "128", "--head-dropout", "0.1"]  # the quickstart's head
CANDIDATES = [  # the baseline first: Table 2's CPU-scale hybrid, retrained here for its reconstructions
    Run("baseline", "hybrid_vae_lstm", HYBRID + ["--alpha", "0.2"],
        {"model": "Table 2's hybrid (LSTM head), alpha 0.2, 2,500 updates, fp32 (baseline)"}),
    Run("fb1.5", "hybrid_vae_lstm", HYBRID + SCHEDULE + ALPHA_FALLS + ["--alpha-final", "0.2",
                                                                      "--free-bits", "1.5"],
        {"model": "LSTM head, free bits 1.5, alpha 1 -> 0.2"}),
    Run("fb2-a0.5", "hybrid_vae_lstm", HYBRID + SCHEDULE + ALPHA_FALLS + ["--alpha-final", "0.5",
                                                                         "--free-bits", "2"],
        {"model": "LSTM head, free bits 2, alpha 1 -> 0.5"}),
    Run("fb1.5-12k", "hybrid_vae_lstm", HYBRID + schedule(12000) + ALPHA_FALLS + ["--alpha-final", "0.2",
                                                                                "--free-bits", "1.5"],
        {"model": "LSTM head, free bits 1.5, alpha 1 -> 0.2, 12,000 updates"}),
    Run("z64-fb1", "hybrid_vae_lstm", HYBRID + SCHEDULE + ALPHA_FALLS + [
        "--alpha-final", "0.2", "--free-bits", "1", "--latent-dim", "64"],
        {"model": "LSTM head, z = 64, free bits 1, alpha 1 -> 0.2"}),
    Run("z64-fb1-12k", "hybrid_vae_lstm", HYBRID + schedule(12000) + ALPHA_FALLS + [
        "--alpha-final", "0.2", "--free-bits", "1", "--latent-dim", "64"],
        {"model": "LSTM head, z = 64, free bits 1, alpha 1 -> 0.2, 12,000 updates"}),
    Run("z64-fb1-24k", "hybrid_vae_lstm", HYBRID + schedule(24000) + ALPHA_FALLS + [
        "--alpha-final", "0.2", "--free-bits", "1", "--latent-dim", "64"],
        {"model": "LSTM head, z = 64, free bits 1, alpha 1 -> 0.2, 24,000 updates"}),
    Run("z64-fb1-48k", "hybrid_vae_lstm", HYBRID + schedule(48000) + ALPHA_FALLS + [
        "--alpha-final", "0.2", "--free-bits", "1", "--latent-dim", "64"],
        {"model": "LSTM head, z = 64, free bits 1, alpha 1 -> 0.2, 48,000 updates"}),
    Run("z128-fb0.75-24k", "hybrid_vae_lstm", HYBRID + schedule(24000) + ALPHA_FALLS + [
        "--alpha-final", "0.2", "--free-bits", "0.75", "--latent-dim", "128"],
        {"model": "LSTM head, z = 128, free bits 0.75, alpha 1 -> 0.2, 24,000 updates"}),
    Run("z128-fb0.75-48k-stop36k", "hybrid_vae_lstm", HYBRID + schedule(48000) + ALPHA_FALLS + [
        "--alpha-final", "0.2", "--free-bits", "0.75", "--latent-dim", "128", "--max-update", "36000"],
        {"model": "LSTM head, z = 128, free bits 0.75, alpha 1 -> 0.2, the 48,000-update schedule "
                  "stopped at 36,000"}),
] + [
    Run(f"z128-then-fb{free_bits}", "hybrid_vae_lstm",
        HYBRID + ["--latent-dim", "128"] + less_free_bits(free_bits),
        {"model": f"the z = 128 run above, then {SECOND_STAGE_UPDATES:,} updates with free bits {free_bits}"},
        parent="z128-fb0.75-48k-stop36k")
    for free_bits in [0, 0.4, 0.5, 0.55, 0.6]
] + [
    Run("fb1.5-hd0.3", "hybrid_vae_lstm", HYBRID + SCHEDULE + ALPHA_FALLS + [
        "--alpha-final", "0.2", "--free-bits", "1.5", "--input-dropout", "0.3"],
        {"model": "LSTM head, history dropout 0.3, free bits 1.5, alpha 1 -> 0.2"}),
    Run("bytenet-fb1.5", "hybrid_vae_bytenet", HYBRID + BYTENET + SCHEDULE + ALPHA_FALLS + [
        "--alpha-final", "0", "--free-bits", "1.5"],
        {"model": "ByteNet head (3 layers of 128), free bits 1.5, alpha 1 -> 0"}),
    Run("bytenet-z64-fb1-12k", "hybrid_vae_bytenet", HYBRID + BYTENET + schedule(12000) + ALPHA_FALLS + [
        "--alpha-final", "0", "--free-bits", "1", "--latent-dim", "64"],
        {"model": "ByteNet head (3 layers of 128), z = 64, free bits 1, alpha 1 -> 0, 12,000 updates"}),
    Run("bytenet-z64-fb1-24k", "hybrid_vae_bytenet", HYBRID + BYTENET + schedule(24000) + ALPHA_FALLS + [
        "--alpha-final", "0", "--free-bits", "1", "--latent-dim", "64"],
        {"model": "ByteNet head (3 layers of 128), z = 64, free bits 1, alpha 1 -> 0, 24,000 updates"}),
]


RECONSTRUCTIONS = "reconstructions.json"  # per candidate: the share kept and 10 examples


def reconstructions(save_dir: str, data: str) -> dict:
    """Mean difflib ratio of the first RECONSTRUCTED_TWEETS test tweets and their greedy reconstructions."""
    from fairseq_hybrid_vae import TextVAEHubInterface

    vae = TextVAEHubInterface.from_pretrained(save_dir, "checkpoint_last.pt", data_name_or_path=data)
    texts = [vae.to_text(tokens) for tokens in vae.split_codes("test")[1][:RECONSTRUCTED_TWEETS]]
    share, outputs = reconstruction_kept(vae, texts)
    return {"kept": share, "examples": list(zip(texts[:10], outputs[:10]))}


def trained(results: str, run: Run) -> tuple:
    """Seconds of training and the updates ("36,000 + 4,000" for a second stage), parents included."""
    curve = read_results(results, [run.name])
    seconds = float(curve[-1]["seconds"]) if curve else float("nan")
    updates = f"{max(int(r['num_updates'] or 0) for r in curve) if curve else 0:,}"
    if run.parent:
        parent_seconds, parent_updates = trained(results, next(r for r in CANDIDATES if r.name == run.parent))
        seconds, updates = seconds + parent_seconds, f"{parent_updates} + {updates}"
    return seconds, updates


def row(run: Run, results: str, work: str, data: str, units: float) -> str:
    nats = kept(results, EVALUATIONS, run.name)["nats_per_sample"]
    save_dir = os.path.join(work, run.name)
    share = kept(results, RECONSTRUCTIONS, run.name, lambda: reconstructions(save_dir, data))
    seconds, updates = trained(results, run)
    elbo, iw_nll = (nats[key] / units / math.log(2) for key in ["elbo", "iw_nll"])
    return (f"| {run.labels['model']} | {updates} | {seconds / 60:.0f} | {elbo:.3f} | {iw_nll:.3f} "
            f"| {nats['kl']:.1f} | {share['kept']:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tweets", help="folder of tweet .txt files (for the first run)")
    parser.add_argument("--work", default=os.path.join(os.path.dirname(os.path.dirname(HERE)), "runs",
                                                       "reproduce-tweets"))
    parser.add_argument("--runs", help="comma-separated candidate names: train only these")
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    data, results = os.path.join(args.work, "data-bin"), os.path.join(HERE, "results", "latent")
    work = os.path.join(args.work, f"latent-{DEFAULT_LSTM_CELL}")
    named = set(args.runs.split(",")) if args.runs else {r.name for r in CANDIDATES}
    named |= {r.parent for r in CANDIDATES if r.name in named and r.parent}  # a second stage needs its first
    chosen = [r for r in CANDIDATES if r.name in named]
    if not args.table_only:
        if not os.path.exists(os.path.join(data, "dict.txt")):
            if not args.tweets:
                sys.exit("no prepared data yet: pass --tweets FOLDER (.txt files, one tweet per line)")
            prepare(args.tweets, data, args.work)
        common = SCALES["cpu"]["common"]
        for run in chosen:
            start = time.time()
            run_grid([run], data, results, work, common)
            evaluate(data, os.path.join(work, run.name), results, run.name, SCALES["cpu"]["eval"])
            print(f"{run.name}: done in {time.time() - start:.0f} s", flush=True)
    units = mean_units(data)
    lines = ["| candidate | updates | training (min) | ELBO bits/char | IW-NLL bits/char | KL (nats/tweet) "
             "| reconstruction kept |", "|---|---|---|---|---|---|---|"]
    lines += [row(run, results, work, data, units) for run in CANDIDATES
              if kept(results, EVALUATIONS, run.name) is not None]
    text = "\n".join(lines) + "\n"
    with atomic_open(os.path.join(HERE, "results", "latent-candidates.md"), encoding="utf-8") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
