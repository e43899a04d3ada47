"""The Python API's calls on one checkpoint: what each returns and how long it takes on this machine.

    python examples/python_api.py --save-dir runs/quickstart/checkpoints --data runs/quickstart/data

Texts come from the data's valid split (its first samples), so any model of the plugin can be shown:
reconstructions of whole samples and of a text shorter than L, prior samples greedy and sampled, an
interpolation, an analogy and the nearest training samples. Prints markdown (docs/python_api.md).
"""

import argparse
import time

import torch

from fairseq_hybrid_vae import TextVAEHubInterface

SHORT_TEXT_CHARS = 20  # a text well under L, cut from the first valid sample


def timed(what: str, call, shown=lambda result: result):
    """call(), shown(its result) printed under a heading with the seconds it took."""
    started = time.perf_counter()
    result = call()
    print(f"\n### {what} ({time.perf_counter() - started:.2f} s)\n\n```")
    lines = shown(result)
    for line in lines if isinstance(lines, list) else [lines]:
        print(repr(line) if isinstance(line, str) else line)
    print("```")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save-dir", required=True, help="folder of the checkpoint")
    parser.add_argument("--checkpoint", default="checkpoint_best.pt")
    parser.add_argument("--data", required=True, help="the data directory the model was trained on")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    vae = timed("from_pretrained", lambda: TextVAEHubInterface.from_pretrained(
        args.save_dir, args.checkpoint, data_name_or_path=args.data), lambda vae: f"on {vae.device}")
    _, valid_units = vae.split_codes("valid")  # (N, L): every sample of the split, in order
    texts = [vae.to_text(units) for units in valid_units[:3]]
    print(f"\n{'window' if vae.windows else 'line'} model, L = {vae.sample_size} units; inputs from the "
          f"valid split:\n\n```")
    for text in texts:
        print(repr(text))
    print("```")
    timed("encode the 3: mu, logvar", lambda: vae.encode(texts),
          lambda codes: f"shapes {tuple(codes[0].shape)}, {tuple(codes[1].shape)}")
    timed("reconstruct the 3 (greedy decoding of the posterior mean)", lambda: vae.reconstruct(texts))
    short = texts[0][:SHORT_TEXT_CHARS]
    timed(f"reconstruct a text of {len(short)} characters: {short!r}", lambda: vae.reconstruct([short]))
    timed("sample(3), greedy", lambda: vae.sample(3))
    timed("sample(3, sampling=True, sampling_topk=10)",
          lambda: vae.sample(3, sampling=True, sampling_topk=10))
    timed("interpolate(first, second, steps=5)", lambda: vae.interpolate(texts[0], texts[1], steps=5))
    timed("analogy(first, second, third)", lambda: vae.analogy(*texts))
    timed("neighbours(first, k=3, split='train'): the nearest training samples and their distances; "
          "this first call encodes the split", lambda: vae.neighbours(texts[0], k=3, split="train"))
    print(f"\n(the training split: {len(vae.split_codes('train')[0])} samples)")
    timed("neighbours(second, k=3, split='train'), the split's codes kept",
          lambda: vae.neighbours(texts[1], k=3, split="train"))


if __name__ == "__main__":
    main()
