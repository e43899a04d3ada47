"""Every arch of the plugin: parameters of its PTB and tweet presets (speed: train_throughput.py).

    python benchmarks/model_table.py [--sample-size 60]
"""

import argparse
from types import SimpleNamespace

from common import dictionary_of

import fairseq_hybrid_vae  # noqa: F401  (registers the models)
from fairseq_hybrid_vae.models.hybrid_vae import HybridVAEConfig, HybridVAEModel, count_parameters
from fairseq_hybrid_vae.models.lstm_vae import LSTMVAEConfig, LSTMVAEModel
from fairseq_hybrid_vae.models.window_lm import WindowLMConfig, WindowLMModel

TWEETS = dict(latent_dim=100, encoder_channels=[128, 256, 512, 512, 512], lstm_hidden_size=1000,
              head_channels=512)  # fmt: skip
ARCHS = {  # name: (model class, PTB preset, tweet preset)
    "hybrid_vae_feedforward": (HybridVAEModel, dict(decoder_head="none"),
                               dict(decoder_head="none", **TWEETS)),
    "hybrid_vae_lstm": (HybridVAEModel, dict(decoder_head="lstm"), dict(decoder_head="lstm", **TWEETS)),
    "hybrid_vae_bytenet": (HybridVAEModel, dict(decoder_head="bytenet"),
                           dict(decoder_head="bytenet", **TWEETS)),
    "lstm_vae": (LSTMVAEModel, dict(input_dropout=0.2), dict(input_dropout=0.2, lstm_hidden_size=1000)),
    "window_lm_lstm": (WindowLMModel, dict(decoder_head="lstm"),
                       dict(decoder_head="lstm", lstm_hidden_size=1000)),
    "window_lm_bytenet": (WindowLMModel, dict(decoder_head="bytenet"),
                          dict(decoder_head="bytenet", head_channels=512)),
}  # fmt: skip
CONFIGS = {HybridVAEModel: HybridVAEConfig, LSTMVAEModel: LSTMVAEConfig, WindowLMModel: WindowLMConfig}


def build(model_cls, overrides: dict, sample_size: int, vocab: int):
    cfg = CONFIGS[model_cls](sample_size=sample_size, **overrides)
    task = SimpleNamespace(target_dictionary=dictionary_of(vocab))
    return model_cls.build_model(cfg, task), task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample-size", type=int, default=60, help="PTB preset L (tweets: 128)")
    args = parser.parse_args()
    print(f"PTB preset: L = {args.sample_size}, 53 types; tweet preset: L = 128, 259 types (the authors' "
          "bytes)")
    print("| arch | parameters (PTB preset) | parameters (tweet preset) |\n|---|---|---|")
    for name, (model_cls, ptb, tweets) in ARCHS.items():
        model, _ = build(model_cls, ptb, args.sample_size, 53)
        tweet_model, _ = build(model_cls, tweets, 128, 259)
        print(f"| {name} | {count_parameters(model):,} | {count_parameters(tweet_model):,} |")


if __name__ == "__main__":
    main()
