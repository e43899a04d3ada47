"""A bare PyTorch yardstick for the learning-speed benchmark: the three LSTM models with torch.nn.LSTM.

No fairseq in the training loop: the models are plain nn.Modules with PyTorch's default
initialisation and the plugin's torch cell (one torch.nn.LSTM), Adam on the per-sample summed loss,
a fresh batch of uniformly random training windows every update. The data are the plugin's
binarized splits (read once into one token stream each), and the validation bound is computed as
the plugin's: every consecutive window of the valid split, one posterior sample per window,
(rec + KL) in bits per scored unit. Sizes and schedule are the plugin's PTB presets and the
benchmark's (learning_speed.py passes them).

    python benchmarks/bare_yardstick.py DATA_BIN --model lm|hybrid|lstm_vae [--sample-size 128]
        [--updates 1500] [--valid-at 250,500,750,1500] [--embed-dim 0]

prints one JSON line per validation point: update, valid_bpc, kl_nats, sec_per_update.
"""

import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.data import Dictionary, data_utils

from fairseq_hybrid_vae.models.text_vae_model import initialize_
from fairseq_hybrid_vae.modules import LSTM_CELLS, build_lstm


def token_stream(data: str, split: str, dictionary: Dictionary) -> torch.Tensor:
    """The split as one stream of token ids: each line's units, then EOS (the newline)."""
    dataset = data_utils.load_indexed_dataset(os.path.join(data, split), dictionary)
    return torch.from_numpy(np.concatenate([dataset[i].numpy() for i in range(len(dataset))]))


class Inputs(nn.Module):
    """One-hot (embed_dim 0) or a learned embedding, as the plugin's models read tokens."""

    def __init__(self, vocab: int, embed_dim: int):
        super().__init__()
        self.vocab = vocab
        self.embed = nn.Embedding(vocab, embed_dim) if embed_dim else None
        self.dim = embed_dim or vocab

    def forward(self, tokens):
        return self.embed(tokens) if self.embed is not None else F.one_hot(tokens, self.vocab).float()


class LM(nn.Module):
    def __init__(self, vocab, a):
        super().__init__()
        self.inputs = Inputs(vocab + 1, a.embed_dim)
        self.lstm = build_lstm(a.cell, self.inputs.dim, a.hidden)
        self.out = nn.Linear(a.hidden, vocab)

    def forward(self, x, prev):
        return self.out(self.lstm(self.inputs(prev))[0]), None, None, None


class Hybrid(nn.Module):
    """Conv encoder, deconv features, aux head and an LSTM head over [feature ; input]."""

    def __init__(self, vocab, a):
        super().__init__()
        L4, V = a.sample_size // 4, vocab
        self.vocab = vocab
        self.enc = nn.Sequential(
            nn.Conv1d(V, 128, 3, 2, 1), nn.BatchNorm1d(128), nn.ReLU(),
            nn.Conv1d(128, 256, 3, 2, 1), nn.BatchNorm1d(256), nn.ReLU(),
        )
        self.to_z = nn.Linear(256 * L4, 2 * a.latent_dim)
        self.from_z = nn.Sequential(nn.Linear(a.latent_dim, 256 * L4), nn.ReLU(), nn.Unflatten(1, (256, L4)))
        self.dec = nn.Sequential(
            nn.ConvTranspose1d(256, 128, 3, 2, 1, 1), nn.BatchNorm1d(128), nn.ReLU(),
            nn.ConvTranspose1d(128, 200, 3, 2, 1, 1), nn.BatchNorm1d(200), nn.ReLU(),
        )
        self.aux = nn.Linear(200, V)
        self.inputs = Inputs(V + 1, a.embed_dim)
        self.lstm = build_lstm(a.cell, 200 + self.inputs.dim, a.hidden)
        self.out = nn.Linear(a.hidden, V)

    def forward(self, x, prev):
        h = self.enc(F.one_hot(x, self.vocab).float().transpose(1, 2)).flatten(1)  # (B, 256·L/4)
        mu, logvar = self.to_z(h).chunk(2, -1)  # 2 x (B, Z)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        features = self.dec(self.from_z(z)).transpose(1, 2)  # (B, 200, L) -> (B, L, 200)
        out, _ = self.lstm(torch.cat([features, self.inputs(prev)], -1))  # (B, L, H)
        return self.out(out), self.aux(features), mu, logvar


class LSTMVAE(nn.Module):
    """LSTM encoder's last state -> z -> tanh(Linear) initial state of the LSTM decoder."""

    def __init__(self, vocab, a):
        super().__init__()
        self.vocab = vocab
        self.enc_inputs = Inputs(vocab, a.embed_dim)
        self.enc = build_lstm(a.cell, self.enc_inputs.dim, a.hidden)
        self.to_z = nn.Linear(a.hidden, 2 * a.latent_dim)
        self.init_state = nn.Linear(a.latent_dim, 2 * a.hidden)
        self.inputs = Inputs(vocab + 1, a.embed_dim)  # + the dropped symbol
        self.lstm = build_lstm(a.cell, self.inputs.dim, a.hidden)
        self.out = nn.Linear(a.hidden, vocab)

    def forward(self, x, prev):
        _, (h, _) = self.enc(self.enc_inputs(x))  # (B, H): windows have no padding
        mu, logvar = self.to_z(h).chunk(2, -1)  # 2 x (B, Z)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        h0, c0 = torch.tanh(self.init_state(z)).chunk(2, -1)  # 2 x (B, H)
        out, _ = self.lstm(self.inputs(prev), (h0, c0))  # (B, L, H)
        return self.out(out), None, mu, logvar


MODELS = {"lm": LM, "hybrid": Hybrid, "lstm_vae": LSTMVAE}


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data")
    p.add_argument("--model", choices=list(MODELS), required=True)
    p.add_argument("--sample-size", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--updates", type=int, default=1500)
    p.add_argument("--valid-at", default="250,500,750,1500")
    p.add_argument("--hidden", type=int, default=500)
    p.add_argument("--latent-dim", type=int, default=50)
    p.add_argument("--embed-dim", type=int, default=0, help="0: one-hot inputs, as the plugin")
    p.add_argument("--alpha", type=float, default=0.2)
    p.add_argument("--input-dropout", type=float, default=0.2, help="lstm_vae's decoder inputs")
    p.add_argument("--kl-anneal", default="200,1000", help="start,updates of the linear KL ramp")
    p.add_argument("--kl-weight-floor", type=float, default=0.001)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=1)
    # What the learning-speed diagnosis varies (docs/lstm_cells.md); the defaults are the yardstick.
    p.add_argument("--cell", choices=list(LSTM_CELLS), default="torch", help="torch: nn.LSTM")
    p.add_argument("--init-scale", type=float, help="every weight and bias ~ U(-s, s), norms excepted")
    p.add_argument("--loss-per", choices=["sample", "unit"], default="sample",
                   help="the loss Adam sees: summed over a sample's units, or their mean (fairseq's)")
    p.add_argument("--clip-norm", type=float, default=0.0, help="clip the gradient norm before Adam; 0: off")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's, one per core)")
    return p


def build_model(a, vocab: int) -> nn.Module:
    model = MODELS[a.model](vocab, a)
    if a.init_scale is not None:  # the plugin's U(-s, s) of every weight and bias, norms excepted
        initialize_(model, a.init_scale, lstm_cell=None)
    return model


def main() -> None:
    a = make_parser().parse_args()
    torch.manual_seed(a.seed)
    if a.threads:
        torch.set_num_threads(a.threads)
    dictionary = Dictionary.load(os.path.join(a.data, "dict.txt"))
    V, L, B = len(dictionary), a.sample_size, a.batch_size
    bos, pad, dropped = dictionary.bos(), dictionary.pad(), len(dictionary)
    train, valid = token_stream(a.data, "train", dictionary), token_stream(a.data, "valid", dictionary)
    model = build_model(a, V)
    optimizer = torch.optim.Adam(model.parameters(), lr=a.lr)
    start, ramp = map(int, a.kl_anneal.split(","))
    valid_at = {int(u) for u in a.valid_at.split(",")}

    def kl_weight(update: int) -> float:
        progress = min(max((update - start) / ramp, 0.0), 1.0) if ramp > 0 else 1.0
        return a.kl_weight_floor + (1 - a.kl_weight_floor) * progress

    def shifted(x):
        return torch.cat([torch.full_like(x[:, :1], bos), x[:, :-1]], 1)  # (B, L)

    def costs(x, prev):
        """Summed rec, KL and aux over the batch, in nats."""
        logits, aux_logits, mu, logvar = model(x, prev)
        rec = F.cross_entropy(logits.reshape(-1, V), x.reshape(-1), ignore_index=pad, reduction="sum")
        zero = rec.new_zeros(())
        kl = zero if mu is None else 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum()
        aux = zero if aux_logits is None else F.cross_entropy(
            aux_logits.reshape(-1, V), x.reshape(-1), ignore_index=pad, reduction="sum")
        return rec, kl, aux

    def validate():
        model.eval()
        padded = torch.full((math.ceil(len(valid) / L) * L,), pad, dtype=valid.dtype)
        padded[: len(valid)] = valid
        windows, total, kl_total = padded.view(-1, L), 0.0, 0.0  # (N, L)
        with torch.no_grad():
            for i in range(0, len(windows), 256):
                x = windows[i : i + 256]
                rec, kl, _ = costs(x, shifted(x))
                total, kl_total = total + rec.item() + kl.item(), kl_total + kl.item()
        model.train()
        return total / len(valid) / math.log(2), kl_total / len(windows)

    train_seconds = 0.0
    for update in range(1, a.updates + 1):
        begin = time.perf_counter()
        offsets = torch.randint(0, len(train) - L + 1, (B,))
        x = train[offsets[:, None] + torch.arange(L)]  # (B, L)
        prev = shifted(x)
        if a.model == "lstm_vae" and a.input_dropout > 0:
            drop = torch.rand(prev.shape) < a.input_dropout
            drop[:, 0] = False  # never the start symbol
            prev = prev.masked_fill(drop, dropped)
        rec, kl, aux = costs(x, prev)
        loss = (rec + kl_weight(update) * kl + a.alpha * aux) / B  # per sample, as the authors
        if a.loss_per == "unit":
            loss = loss / L  # per unit, as fairseq divides by the sample size (ntokens)
        optimizer.zero_grad()
        loss.backward()
        if a.clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip_norm)
        optimizer.step()
        train_seconds += time.perf_counter() - begin
        if update in valid_at:
            bpc, kl_nats = validate()
            print(json.dumps({"update": update, "valid_bpc": round(bpc, 4), "kl_nats": round(kl_nats, 2),
                              "sec_per_update": round(train_seconds / update, 4)}), flush=True)


if __name__ == "__main__":
    main()
