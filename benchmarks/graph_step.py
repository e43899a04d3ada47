"""One update of each LSTM model and cell four ways: eager or replayed as a CUDA graph, fp32 or bf16.

fairseq's Trainer cannot be captured as a CUDA graph (it reads the loss and the gradient norm back to
the host every update) and has no bf16 mode on a GPU (its --bf16 means a TPU), so every row here
drives the plugin's model and criterion the way the Trainer does, without it: the criterion's loss
over sample_size, backward, Adam. "bf16" runs the forward under torch.autocast to bfloat16 (the
weights, gradients and Adam stay fp32). "graph" captures the whole update (forward, backward, Adam's
step) once with torch.cuda.graph, after three eager updates, and times its replays: one launch from
the host per update instead of thousands. A replay does exactly what was captured, so the KL weight
(a Python number when captured) stays fixed; a training loop would keep it in a GPU tensor.

Check: from the same weights, Adam state and seeds, the largest relative difference of the loss over
--check-updates updates from the eager update of the same precision (graph rows: the replay must do
what the eager code does) or, for eager bf16, from eager fp32 (what bf16 rounding changes); beside
them, eager fp32 against itself run again (on a GPU some kernels sum in a varying order, and a
model whose gradients grow over the steps carries such rounding further). Rounds
are interleaved (each round times every row and mode once); medians. Graph modes need --device cuda.

    python benchmarks/graph_step.py [--device cpu|cuda] [--models hybrid_vae_lstm,lstm_vae,window_lm_lstm]
                                    [--lstm-cell authors,layernorm,torch] [--sample-size 128]
                                    [--batch-size 64] [--repeats 15] [--check-updates 3]
"""

import argparse
import contextlib
import copy
import logging
import os
import tempfile
from typing import Dict, List, Optional, Tuple

import torch
from common import dictionary_of, machine
from train_throughput import build, timed

MODES: Dict[str, Tuple[Optional[torch.dtype], bool]] = {  # mode: (autocast dtype, replayed as a CUDA graph)
    "eager fp32": (None, False),
    "eager bf16": (torch.bfloat16, False),
    "graph fp32": (None, True),
    "graph bf16": (torch.bfloat16, True),
}
CHECKED_AGAINST = {"eager bf16": "eager fp32", "graph fp32": "eager fp32", "graph bf16": "eager bf16"}
RERUN = "eager fp32 again"  # the same eager update once more: how far two identical runs already differ
WARMUP_UPDATES = 3  # eager updates before a capture (cuDNN/cuBLAS choose their kernels, Adam fills its state)


class Update:
    """One model's training update with its own weights and Adam, run eagerly or as a graph replay."""

    def __init__(self, model, criterion, sample: dict, dtype: Optional[torch.dtype], graph: bool, seed: int):
        self.model, self.criterion, self.sample, self.dtype = model, criterion, sample, dtype
        self.device_type = next(model.parameters()).device.type
        self.captured = graph
        # capturable: Adam keeps its step count on the GPU, so a replayed step advances it. Every mode
        # on a GPU uses it, so that eager and graph updates do the same arithmetic.
        self.optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, capturable=self.device_type == "cuda")
        self.graph = None
        side = torch.cuda.Stream() if graph else None
        if side is not None:  # warm-up on a side stream, as a capture requires
            side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side) if side is not None else contextlib.nullcontext():
            for i in range(WARMUP_UPDATES):
                torch.manual_seed(seed + i)
                self.eager()
        if side is not None:
            torch.cuda.current_stream().wait_stream(side)
            self.optimizer.zero_grad(set_to_none=True)  # backward in the graph allocates from its pool
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.loss = self.forward_backward_step()

    def forward_backward_step(self) -> torch.Tensor:
        # No autocast cache in a graph: casts cached at capture would outlive the weights' updates.
        with torch.autocast(self.device_type, dtype=self.dtype or torch.float32,
                            enabled=self.dtype is not None, cache_enabled=not self.captured):
            loss, sample_size, _ = self.criterion(self.model, self.sample)
        (loss / sample_size).backward()
        self.optimizer.step()
        return loss.detach()

    def eager(self) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        return self.forward_backward_step()

    def __call__(self) -> torch.Tensor:
        if self.graph is None:
            return self.eager()
        self.graph.replay()  # grads are overwritten in place: the captured backward began from none
        return self.loss


def losses(update: Update, count: int, seed: int) -> List[float]:
    """The loss of `count` updates, each after seeding the generators alike."""
    out = []
    for i in range(count):
        torch.manual_seed(seed + WARMUP_UPDATES + i)
        out.append(float(update()))
    return out


def build_updates(name: str, cell: str, modes: List[str], data: str, args) -> Tuple[Dict, Dict, Dict]:
    """Every mode's Update of one model from the same initial weights; checks; errors of failed captures."""
    trainer, sample = build(name, data, args.sample_size, args.batch_size, args.device, "fp32", cell)
    sample = trainer._prepare_sample(sample)[0]  # on the device, where a graph reads it in place
    initial = copy.deepcopy(trainer.model)
    updates, checks, failed, trace = {}, {}, {}, {}
    for mode in modes:
        dtype, graph = MODES[mode]
        try:
            updates[mode] = Update(copy.deepcopy(initial), trainer.criterion, sample, dtype, graph, seed=1)
            trace[mode] = losses(updates[mode], args.check_updates, seed=1)
        except Exception as error:  # a capture that fails is a row's finding, not the run's end
            updates.pop(mode, None)
            failed[mode] = f"{type(error).__name__}: {' '.join(str(error).split())[:200]}"
    rerun = Update(copy.deepcopy(initial), trainer.criterion, sample, None, False, seed=1)
    trace[RERUN] = losses(rerun, args.check_updates, seed=1)
    for mode, reference in {RERUN: "eager fp32", **CHECKED_AGAINST}.items():
        if mode in trace and reference in trace:
            checks[mode] = max(abs(a - b) / abs(b) for a, b in zip(trace[mode], trace[reference]))
    return updates, checks, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda")
    parser.add_argument("--models", default="hybrid_vae_lstm,lstm_vae,window_lm_lstm")
    parser.add_argument("--lstm-cell", default="authors,layernorm,torch",
                        help="comma-separated; speeds are against the first one's eager fp32 update")
    parser.add_argument("--sample-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--check-updates", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    import fairseq_hybrid_vae  # noqa: F401  (registers the plugin for fairseq's parsers)

    modes = [mode for mode, (_, graph) in MODES.items() if args.device == "cuda" or not graph]
    cells = args.lstm_cell.split(",")
    rows = [(name, cell) for name in args.models.split(",") for cell in cells]
    updates, checks, failed = {}, {}, {}
    with tempfile.TemporaryDirectory() as data:
        dictionary_of(53).save(os.path.join(data, "dict.txt"))
        for row in rows:
            updates[row], checks[row], failed[row] = build_updates(*row, modes, data, args)
        times: Dict[Tuple, List[float]] = {(row, mode): [] for row in rows for mode in updates[row]}
        for _ in range(args.repeats):
            for row, mode in times:
                times[row, mode].append(timed(updates[row][mode], args.device))
    seconds = {key: sorted(t)[len(t) // 2] for key, t in times.items()}
    print(f"L = {args.sample_size}, batch {args.batch_size}, median of {args.repeats} interleaved rounds; "
          f"{machine(args.device)}\n")
    print(f"s/update, and in brackets the speed against the same model's {cells[0]} cell in eager fp32\n")
    print("| model | cell |" + "".join(f" {mode} |" for mode in modes))
    print("|---|---|" + "---|" * len(modes))
    for row in rows:
        base = seconds.get(((row[0], cells[0]), "eager fp32"))
        line = f"| {row[0]} | {row[1]} |"
        for mode in modes:
            s = seconds.get((row, mode))
            line += " failed |" if s is None else f" {s:.4f} ({base / s:.2f}x) |" if base else f" {s:.4f} |"
        print(line)
    print("\nLoss check: largest relative difference over the first "
          f"{args.check_updates} updates from the same weights and seeds\n")
    checked = {RERUN: "eager fp32", **{m: ref for m, ref in CHECKED_AGAINST.items() if m in modes}}
    print("| model | cell |" + "".join(f" {mode} vs {ref} |" for mode, ref in checked.items()))
    print("|---|---|" + "---|" * len(checked))
    for row in rows:
        line = f"| {row[0]} | {row[1]} |"
        for mode in checked:
            line += f" {checks[row][mode]:.1e} |" if mode in checks[row] else " - |"
        print(line)
    for row in rows:
        for mode, error in failed[row].items():
            print(f"{row[0]} [{row[1]}] {mode}: failed ({error})")


if __name__ == "__main__":
    main()
