"""Reproduce the paper's PTB findings: Figures 3-6 as grids of fairseq-train runs, then the plots.

    python examples/ptb/reproduce.py --figure 4 --scale cpu --ptb PTB_FOLDER
    python examples/ptb/reproduce.py --figure 4 --plot-only          # redraw from results/
    python examples/ptb/reproduce.py --figure target --scale cpu --until-converged   # hybrid vs LM, L = 128
    python examples/ptb/reproduce.py --figure 4 --lstm-cell authors  # the paper's LSTM cell

Raw results: examples/ptb/results/<name>/curves.csv (one row per run and validation point), figure:
examples/ptb/results/<name>.png, where <name> is fig<N>-<scale>[-<N>updates][-converged]-<cell> and
<cell> the --lstm-cell every LSTM ran on. A rerun skips the runs already in results/.
`--figure target` (the project's target beyond the paper) trains hybrids and the no-latent LM with the
same LSTM head at L = 128, then runs hybrid-vae-eval on the test windows: results/target-<...>.md.
--scale cpu fits a 2-core machine (smaller layers, batch 32, 1000 updates, a short KL annealing);
--scale paper is the paper's sizes and schedules, for a GPU.
"""

import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from grid import (  # noqa: E402
    EVALUATIONS,
    REPO,
    Convergence,
    Run,
    evaluate,
    final_valid,
    kept,
    read_results,
    run_grid,
)
from paper_setting import paper_flags  # noqa: E402

from fairseq_hybrid_vae.modules import DEFAULT_LSTM_CELL, LSTM_CELLS  # noqa: E402

SCALES = {
    "cpu": {
        "common": ["--batch-size", "32", "--max-update", "1000", "--windows-per-epoch", "16000",
                   "--optimizer", "adam", "--lr", "1e-3", "--num-workers", "0", "--cpu"],
        "hybrid": ["--latent-dim", "32", "--encoder-channels", "64,128", "--decoder-feature-dim", "100",
                   "--lstm-hidden-size", "256", "--head-channels", "128"],
        "lstm_vae": ["--latent-dim", "32", "--lstm-hidden-size", "256"],
        "hybrid_anneal": ["--kl-weight-floor", "0.001", "--kl-anneal-start", "100",
                          "--kl-anneal-updates", "500"],
        "lstm_vae_anneal": ["--kl-weight-floor", "0", "--kl-anneal-start", "200",
                            "--kl-anneal-updates", "500", "--clip-norm", "100"],
        "eval": ["--max-samples", "300", "--iw-samples", "50"],
    },
    "paper": {  # the authors' PTB schedule: the plugin's hydra config (paper_setting.py)
        "common": paper_flags("dataset", "optimizer", "optimization")
                  + paper_flags("task", keys=["windows_per_epoch"]),
        "hybrid": paper_flags("lr_scheduler"),
        "lstm_vae": ["--latent-dim", "100", "--lstm-hidden-size", "500"],
        "hybrid_anneal": paper_flags("criterion", keys=["kl_weight_floor", "kl_anneal_start",
                                                         "kl_anneal_updates"]),
        "lstm_vae_anneal": ["--kl-weight-floor", "0", "--kl-anneal-start", "10000",
                            "--kl-anneal-updates", "7000", "--clip-norm", "100"],
        "eval": ["--iw-samples", "500"],
    },
}


def grid(figure: int, scale: str):
    s = SCALES[scale]
    hybrid = lambda head: (f"hybrid_vae_{head}", s["hybrid"] + s["hybrid_anneal"])  # noqa: E731
    runs = []
    if figure == 3:  # historyless autoencoders, KL off; L a multiple of 4 near the paper's values
        for L in [12, 20, 32, 52, 76, 100]:
            runs.append(Run(f"conv-L{L}", "hybrid_vae_feedforward",
                            s["hybrid"] + ["--sample-size", str(L), "--kl-weight", "0"],
                            {"model": "conv AE", "L": L}))
            runs.append(Run(f"lstm-L{L}", "lstm_vae", s["lstm_vae"] + [
                "--sample-size", str(L), "--kl-weight", "0", "--input-dropout", "1.0"],
                {"model": "LSTM AE", "L": L}))
    elif figure == 4:  # hybrid (alpha 0.2) vs LSTM VAE (p 0.2, 0.5) as L grows
        for L in [12, 24, 36, 48, 60, 96, 128]:
            arch, flags = hybrid("lstm")
            runs.append(Run(f"hybrid-L{L}", arch, flags + ["--sample-size", str(L), "--alpha", "0.2"],
                            {"model": "hybrid, alpha 0.2", "L": L}))
            for p in [0.2, 0.5]:
                runs.append(Run(f"lstmvae-p{p}-L{L}", "lstm_vae", s["lstm_vae"] + s["lstm_vae_anneal"] + [
                    "--sample-size", str(L), "--input-dropout", str(p)],
                    {"model": f"LSTM VAE, p {p}", "L": L}))
    elif figure == 5:  # alpha, with and without KL annealing, L = 52
        for anneal in [True, False]:
            for alpha in [0.0, 0.1, 0.2, 0.5, 1.0]:
                arch, flags = hybrid("lstm")
                flags = flags + (["--kl-anneal-updates", "0"] if not anneal else [])
                runs.append(Run(f"alpha{alpha}-{'anneal' if anneal else 'noanneal'}", arch,
                                flags + ["--sample-size", "52", "--alpha", str(alpha)],
                                {"alpha": alpha, "annealing": anneal}))
    elif figure == "target":  # L = 128: does the latent cost nothing against the same LM?
        arch, flags = hybrid("lstm")
        flags = flags + ["--sample-size", "128"]
        for alpha, free_bits in [(0.2, 0), (0.5, 0), (0.2, 0.5)]:
            name = f"hybrid-alpha{alpha}" + (f"-fb{free_bits}" if free_bits else "") + "-L128"
            label = f"hybrid, alpha {alpha}" + (f", free bits {free_bits}/dim" if free_bits else "")
            runs.append(Run(name, arch, flags + ["--alpha", str(alpha), "--free-bits", str(free_bits)],
                            {"model": label}))
        at = flags.index("--lstm-hidden-size") if "--lstm-hidden-size" in flags else len(flags)
        runs.append(Run("lm-L128", "window_lm_lstm", flags[at : at + 2] + ["--sample-size", "128"],
                        {"model": "no-latent LM, same LSTM head"}))
    elif figure == 6:  # ByteNet head depth x alpha, L = 56
        for alpha in [0.0, 0.2, 0.5]:
            for layers in [1, 2, 3, 5, 7, 10]:
                arch, flags = hybrid("bytenet")
                runs.append(Run(f"bytenet-N{layers}-alpha{alpha}", arch, flags + [
                    "--sample-size", "56", "--alpha", str(alpha), "--head-layers", str(layers)],
                    {"alpha": alpha, "layers": layers}))
    return runs


def plot(figure: int, rows_by_run, runs, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    last = final_valid(rows_by_run)
    done = [r for r in runs if r.name in last]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    value = lambda run, key: float(last[run.name][key])  # noqa: E731
    if figure == 4:
        for model in sorted({r.labels["model"] for r in done}):
            pts = sorted((r.labels["L"], value(r, "elbo"), value(r, "kl")) for r in done
                         if r.labels["model"] == model)
            axes[0].plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=model)
            axes[1].plot([p[0] for p in pts], [p[2] for p in pts], "o-", label=model)
        axes[0].set(xlabel="sample length L (characters)", ylabel="valid ELBO (bits/char)",
                    title="total: rec + KL")
        axes[1].set(xlabel="sample length L (characters)", ylabel="valid KL (bits/char)",
                    title="its KL part")
    elif figure == 3:
        for r in done:
            axis = axes[0] if r.labels["model"] == "conv AE" else axes[1]
            curves = {split: [(int(x["num_updates"]), float(x["rec"])) for x in rows_by_run
                              if x["run"] == r.name and x["split"] == split] for split in ["valid", "train"]}
            (valid,) = axis.plot(*zip(*curves["valid"]), "o-", label=f"L = {r.labels['L']}")
            axis.plot(*zip(*curves["train"]), "x--", color=valid.get_color())
        for axis, title in zip(axes, ["conv/deconv AE (historyless)", "LSTM AE, input dropout 1.0"]):
            axis.set(xlabel="updates", ylabel="rec (bits/char): valid o-, train x--", title=title)
    elif figure == 5:
        for anneal in [True, False]:
            pts = sorted((r.labels["alpha"], value(r, "elbo"), value(r, "kl")) for r in done
                         if r.labels["annealing"] == anneal)
            label = "KL annealing" if anneal else "no annealing"
            axes[0].plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=label)
            axes[1].plot([p[0] for p in pts], [p[2] for p in pts], "o-", label=label)
        axes[0].set(xlabel="alpha", ylabel="valid ELBO (bits/char)")
        axes[1].set(xlabel="alpha", ylabel="valid KL (bits/char)")
    elif figure == 6:
        for alpha in sorted({r.labels["alpha"] for r in done}):
            pts = sorted((r.labels["layers"], value(r, "elbo"), value(r, "kl")) for r in done
                         if r.labels["alpha"] == alpha)
            axes[0].plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=f"alpha {alpha}")
            axes[1].plot([p[0] for p in pts], [p[2] for p in pts], "o-", label=f"alpha {alpha}")
        axes[0].set(xlabel="ByteNet head layers N", ylabel="valid ELBO (bits/char)")
        axes[1].set(xlabel="ByteNet head layers N (receptive field N+1)", ylabel="valid KL (bits/char)")
    for axis in axes:
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.suptitle(f"Figure {figure}: {len(done)} of {len(runs)} runs")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def final_table(runs, rows) -> str:
    """The last validation point of every finished run: ELBO in bits/char and KL in nats per sample."""
    last = final_valid(rows)
    keys = list(runs[0].labels)
    lines = ["| " + " | ".join(keys) + " | valid ELBO (bits/char) | KL (nats/sample) | updates | seconds |",
             "|" + "---|" * (len(keys) + 4)]
    for run in runs:
        if run.name in last:
            r = last[run.name]
            labels = " | ".join(str(run.labels[k]) for k in keys)
            lines.append(f"| {labels} | {float(r['elbo']):.3f} | {float(r['kl_nats']):.2f} "
                         f"| {r['num_updates']} | {r['seconds']} |")
    return "\n".join(lines)


def target_table(runs, results: str) -> str:
    """Test-set numbers of the L = 128 runs from their hybrid-vae-eval reports."""
    lines = ["| model | rec (nats) | KL (nats) | ELBO bits/char | IW-NLL bits/char | MI (nats) "
             "| active units |", "|---|---|---|---|---|---|---|"]
    count, iw_samples = 0, 0
    for run in runs:
        r = kept(results, EVALUATIONS, run.name)
        if r is not None:
            nats, bits = r["nats_per_sample"], r["bits_per_unit"]
            count, iw_samples = r["samples"], r["iw_samples"]
            lines.append(f"| {run.labels['model']} | {nats['rec']:.2f} | {nats['kl']:.2f} "
                         f"| {bits['elbo']:.4f} | {bits['iw_nll']:.4f} | {r['mutual_information_nats']:.2f} "
                         f"| {r['active_units']} of {r['latent_dim']} |")
    return "\n".join(lines) + f"\n\nTest split, first {count} windows of 128 characters, K = {iw_samples}.\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figure", choices=["3", "4", "5", "6", "target"], required=True)
    parser.add_argument("--scale", choices=list(SCALES), default="cpu")
    parser.add_argument("--ptb", help="folder with ptb.{train,valid,test}.txt (for the first run)")
    parser.add_argument("--work", default=os.path.join(REPO, "runs", "reproduce-ptb"),
                        help="prepared data and checkpoints (not committed)")
    parser.add_argument("--max-update", type=int,
                        help="train this many updates instead of the scale's (results: <name>-<N>updates)")
    parser.add_argument("--runs", help="comma-separated run names: train only these (e.g. to split the grid "
                        "over two processes); the table and figure still show every finished run")
    parser.add_argument("--lstm-cell", choices=list(LSTM_CELLS), default=DEFAULT_LSTM_CELL,
                        help="the cell of every LSTM; the paper's is 'authors' (results: <name>-<cell>)")
    parser.add_argument("--until-converged", action="store_true",
                        help=f"train each run past {Convergence.min_updates} updates until its valid ELBO "
                        f"gains less than {Convergence.min_gain} bits/char per {Convergence.every} updates")
    parser.add_argument("--plot-only", action="store_true")
    args = parser.parse_args()
    figure = int(args.figure) if args.figure.isdigit() else args.figure
    runs = grid(figure, args.scale)
    train = [r for r in runs if not args.runs or r.name in args.runs.split(",")]
    common = SCALES[args.scale]["common"] + ["--lstm-cell", args.lstm_cell]
    name = f"fig{figure}-{args.scale}" if figure != "target" else f"target-{args.scale}"
    if args.max_update:
        name += f"-{args.max_update}updates"
        common = common + ["--max-update", str(args.max_update)]  # the later flag wins in argparse
    name += "-converged" if args.until_converged else ""
    name += f"-{args.lstm_cell}"
    results = os.path.join(HERE, "results", name)
    if not args.plot_only:
        data = os.path.join(args.work, "data-bin")
        if not os.path.exists(os.path.join(data, "dict.txt")):
            if not args.ptb:
                sys.exit("no prepared data yet: pass --ptb FOLDER with ptb.{train,valid,test}.txt")
            subprocess.run([os.path.join(REPO, ".venv", "bin", "hybrid-vae-prepare"),
                            "--train", os.path.join(args.ptb, "ptb.train.txt"),
                            "--valid", os.path.join(args.ptb, "ptb.valid.txt"),
                            "--test", os.path.join(args.ptb, "ptb.test.txt"), "--destdir", data],
                           check=True)
        convergence = Convergence() if args.until_converged else None
        run_grid(train, data, results, os.path.join(args.work, name), common, convergence)
        if figure == "target":
            for run in train:
                evaluate(data, os.path.join(args.work, name, run.name), results, run.name,
                         SCALES[args.scale]["eval"], split="test")
    if figure == "target":
        text = target_table(runs, results)
        with open(results + ".md", "w") as f:
            f.write(text)
        print(text)
    else:
        rows = read_results(results, [r.name for r in runs])
        plot(figure, rows, runs, results + ".png")
        print(final_table(runs, rows))


if __name__ == "__main__":
    main()
