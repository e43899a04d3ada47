"""Every arch of the plugin: parameters of its PTB and tweet presets (speed: train_throughput.py).

    python benchmarks/model_table.py [--lstm-cell authors]

Built through the registered archs (`--arch NAME_ptb` / `NAME_tweets`), so this table is what fairseq
trains. docs/benchmarks.md holds its output for the default cell; tests/test_presets.py checks the two
agree.
"""

import argparse
from typing import Dict, List, Tuple

from common import dictionary_of

import fairseq_hybrid_vae  # noqa: F401  (registers the models)
from fairseq_hybrid_vae.models import build_arch
from fairseq_hybrid_vae.models.text_vae_model import count_parameters
from fairseq_hybrid_vae.modules import DEFAULT_LSTM_CELL, LSTM_CELLS

PTB = (53, 60)  # types (fairseq's 4 symbols + 49 characters), L
TWEETS = (259, 128)  # the authors' 256 bytes and 3 symbols, L
ROWS = {  # name: (PTB arch, tweet arch, options)
    "hybrid_vae_feedforward": ("hybrid_vae_feedforward_ptb", "hybrid_vae_feedforward_tweets", {}),
    "hybrid_vae_lstm": ("hybrid_vae_lstm_ptb", "hybrid_vae_lstm_tweets", {}),
    "hybrid_vae_bytenet (1 layer)": ("hybrid_vae_bytenet_ptb", "hybrid_vae_bytenet_tweets", {}),
    "lstm_vae": ("lstm_vae_ptb", "lstm_vae_tweets", {"input_dropout": 0.2}),
    "window_lm_lstm": ("window_lm_lstm", "window_lm_lstm_tweets", {}),
    "window_lm_bytenet (1 layer)": ("window_lm_bytenet", "window_lm_bytenet_tweets", {}),
}


def parameter_table(lstm_cell: str) -> Dict[str, Tuple[int, int]]:
    """name -> (parameters of the PTB preset, of the tweet preset)."""
    counts = {}
    for name, (ptb_arch, tweet_arch, options) in ROWS.items():
        counts[name] = tuple(
            count_parameters(build_arch(arch, dictionary_of(vocab), sample_size=L, lstm_cell=lstm_cell,
                                        **options))
            for arch, (vocab, L) in [(ptb_arch, PTB), (tweet_arch, TWEETS)]
        )
    return counts


def markdown(counts: Dict[str, Tuple[int, int]]) -> List[str]:
    lines = [f"| arch | parameters (PTB preset, L = {PTB[1]}) | parameters (tweet preset, {TWEETS[0]} types, "
             f"L = {TWEETS[1]}) |", "|---|---|---|"]
    return lines + [f"| {name} | {ptb:,} | {tweets:,} |" for name, (ptb, tweets) in counts.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lstm-cell", choices=list(LSTM_CELLS), default=DEFAULT_LSTM_CELL)
    args = parser.parse_args()
    print(f"--lstm-cell {args.lstm_cell}\n")
    print("\n".join(markdown(parameter_table(args.lstm_cell))))


if __name__ == "__main__":
    main()
