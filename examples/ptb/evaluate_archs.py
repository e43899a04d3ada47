"""hybrid-vae-eval on real PTB windows for one checkpoint of each arch the grids trained.

    python examples/ptb/evaluate_archs.py            # after the Figure 3, 4 and 6 grids (--scale cpu)

Writes results/eval-archs-cpu/evaluations.json (a report per arch), prints a table; checks IW-NLL <= ELBO.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from grid import REPO, evaluate  # noqa: E402

WORK = os.path.join(REPO, "runs", "reproduce-ptb")
CHECKPOINTS = {  # arch: (run folder of a grid, what it is)
    "hybrid_vae_feedforward": ("fig3-cpu-authors/conv-L52", "conv AE of Figure 3, L = 52, KL term off"),
    "hybrid_vae_lstm": ("fig4-cpu-authors/hybrid-L60", "Figure 4, alpha 0.2, L = 60"),
    "hybrid_vae_bytenet": ("fig6-cpu-authors/bytenet-N3-alpha0.2", "Figure 6, N = 3, alpha 0.2, L = 56"),
    "lstm_vae": ("fig4-cpu-authors/lstmvae-p0.2-L60", "Figure 4, p 0.2, L = 60"),
    "window_lm_lstm": ("target-cpu-authors/lm-L128", "the target grid's LM, L = 128"),
}
FLAGS = ["--max-samples", "200", "--iw-samples", "50", "--diversity-samples", "0"]


def main() -> None:
    results = os.path.join(HERE, "results", "eval-archs-cpu")
    os.makedirs(results, exist_ok=True)
    print("test split, first 200 windows, K = 50 importance samples\n")
    print("| arch | checkpoint | ELBO bits/char | IW-NLL bits/char | KL nats | active units "
          "| IW-NLL <= ELBO |")
    print("|---|---|---|---|---|---|---|")
    for arch, (run, what) in CHECKPOINTS.items():
        save_dir = os.path.join(WORK, run)
        if not os.path.exists(os.path.join(save_dir, "checkpoint_last.pt")):
            print(f"| {arch} | {what}: not trained yet | | | | | |")
            continue
        r = evaluate(os.path.join(WORK, "data-bin"), save_dir, results, arch, FLAGS, split="test")
        bits, nats = r["bits_per_unit"], r["nats_per_sample"]
        bound_holds = "yes" if bits["iw_nll"] <= bits["elbo"] else "NO"
        print(f"| {arch} | {what} | {bits['elbo']:.4f} | {bits['iw_nll']:.4f} | {nats['kl']:.2f} "
              f"| {r['active_units']} of {r['latent_dim']} | {bound_holds} |")


if __name__ == "__main__":
    main()
