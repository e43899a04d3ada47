"""Training throughput and peak memory: the plugin's archs, fairseq's own lstm_lm, and a bare loop.

One update = forward + backward + optimizer step on a batch of random windows (batch 64, PTB preset
sizes, 53 types). Every model is stepped through fairseq's Trainer.train_step exactly as fairseq-train
does (seeding, sample preparation, gradient normalisation, the gradient-norm check, FairseqAdam,
metrics); `hybrid_vae_lstm (bare loop)` drives the same model with torch.optim.Adam and nothing else,
so the two rows show what fairseq's machinery costs. Rounds are interleaved (each round times every
model once, so a slow moment of the machine hits them alike); the median over --repeats rounds is
reported, with ratios to lstm_vae, to the no-latent LM with the same LSTM head (window_lm_lstm) and to
fairseq's lstm_lm of the same hidden size (500). With several cells (`--lstm-cell layernorm,authors`)
every model with an LSTM runs once per cell in the same rounds, and the ratios are to the same model
with the first cell named. GFLOP/update: the floating-point operations of one
update, counted by torch.utils.flop_counter (matmuls, convolutions and torch.nn.LSTM's fused layers;
1 multiply-add = 2 FLOP).

Peak memory (--memory): each (model, L) once more in a fresh process that builds the model and runs
three updates; the growth of its peak over what the process held before (after the imports): CPU,
the peak resident set (Linux VmHWM); CUDA, torch.cuda.max_memory_allocated.

    python benchmarks/train_throughput.py [--sample-sizes 64,128,256] [--batch-size 64] [--repeats 5]
                                          [--device cpu|cuda] [--dtype fp32|fp16|amp|bf16] [--memory]
                                          [--lstm-cell CELL[,CELL...]]
"""

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Tuple

import torch
from common import dictionary_of, flop_counter, machine

from fairseq_hybrid_vae.modules import DEFAULT_LSTM_CELL

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fairseq_hybrid_vae")
PLUGIN = ["--user-dir", PACKAGE, "--task", "text_vae", "--criterion", "hybrid_vae_elbo"]
MODELS = {  # name: fairseq-train flags (PTB presets)
    "hybrid_vae_lstm": PLUGIN + ["--arch", "hybrid_vae_lstm_ptb"],
    "hybrid_vae_lstm (bare loop)": PLUGIN + ["--arch", "hybrid_vae_lstm_ptb"],
    "hybrid_vae_lstm (torch_adam)": PLUGIN + ["--arch", "hybrid_vae_lstm_ptb", "--optimizer", "torch_adam"],
    "hybrid_vae_bytenet": PLUGIN + ["--arch", "hybrid_vae_bytenet_ptb"],
    "hybrid_vae_feedforward": PLUGIN + ["--arch", "hybrid_vae_feedforward_ptb"],
    "lstm_vae": PLUGIN + ["--arch", "lstm_vae_ptb", "--input-dropout", "0.2"],
    "window_lm_lstm": PLUGIN + ["--arch", "window_lm_lstm"],
    "fairseq lstm_lm": ["--task", "language_modeling", "--arch", "lstm_lm", "--criterion", "cross_entropy",
                        "--decoder-embed-dim", "500", "--decoder-hidden-size", "500",
                        "--decoder-out-embed-dim", "500", "--tokens-per-sample", "{L}"],
}
REFERENCES = ["lstm_vae", "window_lm_lstm", "fairseq lstm_lm"]  # the speed ratio columns
# The models --lstm-cell changes; the others run once, whatever the cells.
RECURRENT = {"hybrid_vae_lstm", "hybrid_vae_lstm (bare loop)", "hybrid_vae_lstm (torch_adam)", "lstm_vae",
             "window_lm_lstm"}
# fairseq's half-precision training on a GPU: --fp16 (the model in fp16, fp32 master weights) or --amp
# (torch autocast to fp16 with a grad scaler). Its --bf16 means a TPU (options.py sets --tpu with it);
# the plugin's --bf16-autocast runs the update under bf16 autocast on a CPU or a GPU.
DTYPE_FLAGS = {"fp32": [], "fp16": ["--fp16"], "amp": ["--amp"], "bf16": ["--bf16-autocast"]}


def build(name: str, data: str, L: int, batch_size: int, device: str, dtype: str, lstm_cell: str):
    """fairseq's Trainer for one model, and one batch of random windows in its task's format."""
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq.trainer import Trainer

    flags = [data, "--optimizer", "adam", "--lr", "1e-3", "--batch-size", str(batch_size), "--seed", "1",
             "--save-dir", data]  # where the Trainer writes crash.pt if an update fails
    flags += [f.format(L=L) for f in MODELS[name]]
    flags += [] if name == "fairseq lstm_lm" else ["--sample-size", str(L), "--lstm-cell", cell_of(lstm_cell)]
    flags += ["--cpu"] if device == "cpu" else []
    flags += DTYPE_FLAGS[dtype]
    args = options.parse_args_and_arch(options.get_training_parser(), flags)
    cfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(cfg.task)
    model, criterion = task.build_model(cfg.model), task.build_criterion(cfg.criterion)
    trainer = Trainer(cfg, task, model, criterion)
    vocab = len(task.target_dictionary)
    target = torch.randint(4, vocab, (batch_size, L))  # (B, L)
    prev = torch.cat([torch.full_like(target[:, :1], task.target_dictionary.bos()), target[:, :-1]], 1)
    net_input = {"src_tokens": target if name != "fairseq lstm_lm" else prev,
                 "src_lengths": torch.full((batch_size,), L), "prev_output_tokens": prev}
    if name == "fairseq lstm_lm":
        del net_input["prev_output_tokens"]
    sample = {"id": torch.arange(batch_size), "nsentences": batch_size, "ntokens": batch_size * L,
              "net_input": net_input, "target": target}
    return trainer, sample


# "--lstm-cell layernorm:autograd": the default cell trained under autograd, as where compiling is
# unavailable (HYBRID_VAE_COMPILE=0 during its updates), timed beside its fused pass.
UNFUSED = ":autograd"


def cell_of(lstm_cell: str) -> str:
    return lstm_cell.removesuffix(UNFUSED)


def unfused(step: Callable[[], None]) -> Callable[[], None]:
    """The update with the default cell's fused training pass off (read at every forward)."""
    def step_under_autograd():
        previous = os.environ.get("HYBRID_VAE_COMPILE", "1")
        os.environ["HYBRID_VAE_COMPILE"] = "0"
        try:
            step()
        finally:
            os.environ["HYBRID_VAE_COMPILE"] = previous
    return step_under_autograd


def step_function(name: str, trainer, sample) -> Callable[[], None]:
    if name.endswith("(bare loop)"):
        model, criterion = trainer.model, trainer.criterion
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        sample = trainer._prepare_sample(sample)[0]  # on the device once, as fairseq does per step

        def bare_step():
            optimizer.zero_grad()
            loss, sample_size, _ = criterion(model, sample)
            (loss / sample_size).backward()
            optimizer.step()

        return bare_step
    return lambda: trainer.train_step([sample])


def timed(fn: Callable[[], None], device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def peak_memory_mb(name: str, data: str, L: int, args) -> float:
    """Peak memory of building the model and three updates in this (fresh) process, over what it held
    before: parameters, gradients, optimizer state, activations (and, on CPU, the allocator's slack)."""
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        # Trainer.train_step resets the peak itself after every update (for its gb_free metric), which
        # would hide all but the last update's tail; this child process only measures, so keep ours.
        torch.cuda.reset_peak_memory_stats = lambda device=None: None
    else:
        with open("/proc/self/clear_refs", "w") as f:  # Linux: reset the peak resident set (VmHWM) to now
            f.write("5")
        before = resident_kb("VmRSS") * 1024
    trainer, sample = build(name, data, L, args.batch_size, args.device, args.dtype, args.lstm_cell)
    step = step_function(name, trainer, sample)
    step(), step(), step()
    if args.device == "cuda":
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    return (resident_kb("VmHWM") * 1024 - before) / 2**20


def resident_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample-sizes", default="64,128,256")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--dtype", choices=list(DTYPE_FLAGS), default="fp32",
                        help="fp16 and amp need --device cuda; bf16 is --bf16-autocast; the bare loop row is "
                             "fp32-only")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset")
    parser.add_argument("--memory", action="store_true", help="also measure peak memory (one process each)")
    parser.add_argument("--lstm-cell", default=DEFAULT_LSTM_CELL, help="the plugin models' --lstm-cell, or "
                        "several, comma-separated, timed in the same rounds (the tables in "
                        "benchmarks/results/train_throughput_*.md: authors); layernorm:autograd is the "
                        "default cell without its fused training pass")
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)  # internal: NAME@L in a child process
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # fairseq's and hydra's per-model set-up messages
    rows = rows_of(args.models.split(","), args.lstm_cell.split(","))
    import fairseq_hybrid_vae  # noqa: F401  (registers the plugin for fairseq's parsers)

    with tempfile.TemporaryDirectory() as data:
        dictionary_of(53).save(os.path.join(data, "dict.txt"))
        if args.memory_of:
            name, L = args.memory_of.rsplit("@", 1)
            print(json.dumps(peak_memory_mb(name, data, int(L), args)))
            return
        print(f"batch {args.batch_size}, {args.dtype}, --lstm-cell {args.lstm_cell}, "
              f"median of {args.repeats} interleaved rounds; {machine(args.device)}")
        for L in [int(x) for x in args.sample_sizes.split(",")]:
            seconds, flops, failed = measure(L, rows, data, args)
            report(L, args, {label: row for label, row in rows.items() if label in seconds}, seconds, flops)
            for label, error in failed.items():
                print(f"{label}: not timed, an update failed ({error})")


def row_label(name: str, cell: str, cells: List[str]) -> str:
    """A model with an LSTM is named with its cell when there are several cells."""
    return f"{name} [{cell}]" if len(cells) > 1 and name in RECURRENT else name


def rows_of(names: List[str], cells: List[str]) -> Dict[str, Tuple[str, str]]:
    """Table row -> (model, cell): a model with an LSTM once per cell, any other model once."""
    return {row_label(name, cell, cells): (name, cell)
            for name in names for cell in (cells if name in RECURRENT else cells[:1])}


def measure(L: int, rows: Dict[str, Tuple[str, str]], data: str, args):
    """Median seconds per update and FLOP per update of each row, in interleaved rounds; a row whose
    update fails (NaN/inf gradients, fp16 overflow) is dropped with its error, not the whole run."""
    steps, flops, failed = {}, {}, {}

    def attempt(label: str, fn: Callable[[], object]) -> None:
        try:
            fn()
        except FloatingPointError as error:
            failed[label] = f"{type(error).__name__}: {' '.join(str(error).split())}"
            steps.pop(label, None)

    for label, (name, cell) in rows.items():
        trainer, sample = build(name, data, L, args.batch_size, args.device, args.dtype, cell)
        steps[label] = step_function(name, trainer, sample)
        if cell.endswith(UNFUSED):
            steps[label] = unfused(steps[label])
        # One update's arithmetic, counted; eagerly: a kernel compiled under the counter's dispatch mode
        # stays slower afterwards (0.50 -> 0.66 s per update, the hybrid's fused LSTM cell).
        with flop_counter() as counter, torch.compiler.set_stance("force_eager"):
            attempt(label, steps[label])
        flops[label] = counter.get_total_flops()
        if label in steps:
            attempt(label, steps[label])  # warm-up (allocations, lazy initialisation)
    times: Dict[str, List[float]] = {label: [] for label in steps}
    for _ in range(args.repeats):
        for label in list(steps):
            attempt(label, lambda: times[label].append(timed(steps[label], args.device)))  # noqa: B023
    return {label: sorted(times[label])[len(times[label]) // 2] for label in steps}, flops, failed


def report(L: int, args, rows: Dict[str, Tuple[str, str]], seconds: Dict[str, float],
           flops: Dict[str, int]) -> None:
    units = args.batch_size * L
    cells = args.lstm_cell.split(",")
    references = [ref for ref in REFERENCES if ref in seconds]  # none of the LSTM ones with several cells
    # Rows named with their cell get a column of speeds against the same model with the first cell.
    by_cell = any(label != name for label, (name, _) in rows.items())
    header = "| model | s/update | units/s | GFLOP/update | GFLOP/s |"
    header += "".join(f" speed vs {ref} |" for ref in references)
    header += f" speed vs {cells[0]} |" if by_cell else ""
    memory = {}
    if args.memory:
        header += " peak memory (MB) |"
        for label, (name, cell) in rows.items():
            child = [sys.executable, __file__, "--memory-of", f"{name}@{L}", "--batch-size",
                     str(args.batch_size), "--device", args.device, "--dtype", args.dtype, "--lstm-cell",
                     cell]
            result = subprocess.run(child, capture_output=True, text=True)
            memory[label] = float(result.stdout) if result.returncode == 0 else float("nan")
    print(f"\nL = {L}\n{header}")
    print("|" + "---|" * (header.count("|") - 1))
    for label, (name, _) in rows.items():
        row = f"| {label} | {seconds[label]:.3f} | {units / seconds[label]:,.0f} | {flops[label] / 1e9:.1f} "
        row += f"| {flops[label] / 1e9 / seconds[label]:.0f} |"
        row += "".join(f" {seconds[ref] / seconds[label]:.2f}x |" for ref in references)
        if by_cell:
            first = row_label(name, cells[0], cells)
            ratio = first != name and first in seconds
            row += f" {seconds[first] / seconds[label]:.2f}x |" if ratio else " |"
        print(row + (f" {memory[label]:,.0f} |" if args.memory else ""))


if __name__ == "__main__":
    main()
