"""Every arch of the plugin: parameters of its PTB and tweet presets, and CPU time per update.

A training update here is forward + backward + Adam step on a random batch of windows (batch 64,
L = 60 by default), as fairseq-train runs it but without data loading; median of several repeats.

    python benchmarks/model_table.py [--batch-size 64] [--sample-size 60] [--repeats 5]
"""

import argparse
from types import SimpleNamespace

import torch
from common import dictionary_of, machine, median_seconds

import fairseq_hybrid_vae  # noqa: F401  (registers the models)
from fairseq_hybrid_vae.criterions.hybrid_vae_elbo import HybridVAEElboCriterion
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


def seconds_per_update(model, task, batch_size: int, sample_size: int, repeats: int) -> float:
    criterion = HybridVAEElboCriterion(task, alpha=0.2, kl_weight_floor=0.001, kl_anneal_start=0,
                                       kl_anneal_updates=1, free_bits=0.0)  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    vocab = len(task.target_dictionary)
    target = torch.randint(4, vocab, (batch_size, sample_size))
    prev = torch.cat([torch.zeros_like(target[:, :1]), target[:, :-1]], dim=1)
    sample = {"net_input": {"src_tokens": target, "src_lengths": None, "prev_output_tokens": prev},
              "target": target, "ntokens": target.numel()}  # fmt: skip
    model.train()

    def update():
        optimizer.zero_grad()
        loss, sample_size_, _ = criterion(model, sample)
        (loss / sample_size_).backward()
        optimizer.step()

    return median_seconds(update, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--sample-size", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"batch {args.batch_size}, L = {args.sample_size}; PTB vocabulary 53 types, tweets 259 (the "
          f"authors' bytes); {machine('cpu')}")
    print("| arch | parameters (PTB preset) | parameters (tweet preset) | s/update (PTB preset) |")
    print("|---|---|---|---|")
    for name, (model_cls, ptb, tweets) in ARCHS.items():
        model, task = build(model_cls, ptb, args.sample_size, 53)
        tweet_model, _ = build(model_cls, tweets, 128, 259)
        seconds = seconds_per_update(model, task, args.batch_size, args.sample_size, args.repeats)
        print(f"| {name} | {count_parameters(model):,} | {count_parameters(tweet_model):,} | "
              f"{seconds:.3f} |")


if __name__ == "__main__":
    main()
