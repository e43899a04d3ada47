"""hybrid-vae-latent: use z to change what the model writes, and look at the latent space.

    hybrid-vae-latent vector|steer|analogy|neighbours|map DATA --path CKPT ...   (--help on each)

Texts are read one per line; output lines as fairseq-generate's: S-i input, D-i decoded (steer:
D-i<TAB>amount<TAB>text; neighbours: N-i<TAB>distance<TAB>text).
"""

import argparse
import logging
import os
import sys
from typing import List, Optional

import numpy as np
import torch

from ..common.atomic import atomic_path
from ..common.compat import keep_freed_memory
from ..common.errors import InputError
from ..common.option_ranges import AT_LEAST_1, FINITE, Checked, OneLineArgumentParser, PathKind, Validated
from ..data.text_units import one_line
from ..fairseq_fixes.patches import patch_for_the_command_line
from ..hub_interface import TextVAEHubInterface
from ..tasks.text_vae import load_latent_vector
from .commands import configure_output
from .prepare import CONVERT_TO_UTF8, read_lines

logger = logging.getLogger(__name__)


def read_texts(path: str, skip_blank: bool = False) -> List[str]:
    """One text per line, read as hybrid-vae-prepare reads a corpus (undecodable bytes: one line); with
    `skip_blank`, a blank line is no text (one log line counts them)."""
    texts = list(read_lines(path, errors="strict", fix=CONVERT_TO_UTF8))
    if skip_blank:
        kept = [text for text in texts if text.strip()]
        if len(kept) < len(texts):
            logger.warning(f"{path}: {len(texts) - len(kept)} blank line(s) skipped")
        texts = kept
    if not texts:
        raise InputError(f"{path} holds no {'text' if skip_blank else 'lines'}: give one text per line")
    return texts


def amounts_text(text: str) -> str:
    """--amounts: comma-separated finite numbers."""
    try:
        values = [float(value) for value in text.split(",")]
    except ValueError:
        values = []
    if not values or not all(value in FINITE for value in values):
        raise argparse.ArgumentTypeError(f"{text}: give comma-separated numbers, e.g. 0,1,2")
    return text


def load(args) -> TextVAEHubInterface:
    model_dir, checkpoint = os.path.split(os.path.abspath(args.path))
    vae = TextVAEHubInterface.from_pretrained(model_dir, checkpoint,
                                              data_name_or_path=os.path.abspath(args.data))
    if torch.cuda.is_available() and not args.cpu:
        vae.cuda()
    elif kept := keep_freed_memory():  # encoding a split frees and retakes MBs per batch, as training
        logger.info(kept)
    return vae


def vector(args) -> None:
    vae = load(args)
    # a blank line (a file's trailing one, a separator) would add an empty text's z to a mean
    direction = vae.attribute_vector(read_texts(args.with_attribute, skip_blank=True),
                                     read_texts(args.without_attribute, skip_blank=True))
    with atomic_path(args.out) as partial:
        torch.save(direction.cpu(), partial)
    print(f"wrote {args.out}: a direction of norm {float(direction.norm()):.3f} in the "
          f"{len(direction)}-d latent space")


def steer(args) -> None:
    vae = load(args)
    direction = load_latent_vector(args.vector, vae.model.encoder.latent_dim, "--vector")
    texts = read_texts(args.input, skip_blank=True)  # as `vector`: S-i is the i-th text
    amounts = [float(value) for value in args.amounts.split(",")]
    mu, _ = vae.encode(texts)  # once for every amount: each text cut to L is logged once
    outputs = {amount: vae.decode(mu + amount * direction.to(mu), beam=args.beam) for amount in amounts}
    for i, text in enumerate(texts):
        print(f"S-{i}\t{one_line(text)}")
        for amount in amounts:
            print(f"D-{i}\t{amount:g}\t{one_line(outputs[amount][i])}")


def analogy(args) -> None:
    vae = load(args)
    print("S-0\t" + "\t".join(one_line(text) for text in (args.a, args.b, args.c)))
    print(f"D-0\t{one_line(vae.analogy(args.a, args.b, args.c, beam=args.beam))}")


def neighbours(args) -> None:
    vae = load(args)
    vae.split_codes(args.split)  # a split that cannot be read is refused before any record is printed
    for i, text in enumerate(args.texts):
        print(f"S-{i}\t{one_line(text)}")
        for neighbour, distance in vae.neighbours(text, args.k, args.split):
            print(f"N-{i}\t{distance:.3f}\t{one_line(neighbour)}")


def latent_map(args) -> None:
    """PCA of the posterior means of a split to 2-D, one point per sample, coloured by label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    vae = load(args)
    codes = vae.split_codes(args.split)[0].cpu().numpy()  # (N, Z)
    labels = read_texts(args.labels) if args.labels else ["all"] * len(codes)
    if len(labels) != len(codes):
        raise InputError(f"{args.labels} has {len(labels)} labels for the {len(codes)} samples of split "
                         f"'{args.split}': give one label per sample, in order")
    points = PCA(n_components=2).fit_transform(codes)  # (N, 2)
    figure, axes = plt.subplots(figsize=(6, 6))
    for label in sorted(set(labels)):
        chosen = np.array([item == label for item in labels])
        axes.scatter(points[chosen, 0], points[chosen, 1], s=4, alpha=0.6, label=label)
    axes.set_xlabel("principal component 1")
    axes.set_ylabel("principal component 2")
    axes.set_title(f"posterior means of '{args.split}' ({len(codes)} samples)")
    if len(set(labels)) > 1:
        axes.legend(markerscale=4)
    with atomic_path(args.out) as partial:
        figure.savefig(partial, format="png", dpi=100)
    if args.coords:
        with atomic_path(args.coords) as partial, open(partial, "w") as f:
            f.writelines(f"{x:.6f}\t{y:.6f}\t{label}\n" for (x, y), label in zip(points, labels))
    print(f"wrote {args.out}: {len(codes)} points")


def get_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(prog="hybrid-vae-latent", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineArgumentParser)

    def command(name: str, run, help: str) -> OneLineArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.add_argument("data", type=PathKind("folder"), help="the data directory the model was trained on")
        sub.add_argument("--path", type=PathKind("file"), required=True, help="checkpoint file")
        sub.add_argument("--cpu", action="store_true", help="do not use a GPU")
        sub.set_defaults(run=run)
        return sub

    sub = command("vector", vector, "mean posterior of texts with an attribute minus that of those without")
    sub.add_argument("--with", dest="with_attribute", type=PathKind("file"), required=True,
                     help="texts with the attribute, one per line")
    sub.add_argument("--without", dest="without_attribute", type=PathKind("file"), required=True,
                     help="texts without it, one per line")
    sub.add_argument("--out", type=PathKind("output file"), required=True, help="the direction (.pt)")
    sub = command("steer", steer, "decode texts moved along a direction, at several amounts")
    sub.add_argument("--vector", type=PathKind("file"), required=True, help="a direction from `vector`")
    sub.add_argument("--input", type=PathKind("file"), required=True, help="texts, one per line")
    sub.add_argument("--amounts", type=Validated(amounts_text, bad="1,x"), default="0,1",
                     help="comma-separated amounts (0: plain reconstruction)")
    sub.add_argument("--beam", type=Checked(int, AT_LEAST_1), default=1, help="beam size (1: greedy)")
    sub = command("analogy", analogy, "a : b :: c : ?, decoded from z(c) + z(b) - z(a)")
    for name in "abc":
        sub.add_argument(name, help=f"text {name}")
    sub.add_argument("--beam", type=Checked(int, AT_LEAST_1), default=1, help="beam size (1: greedy)")
    sub = command("neighbours", neighbours, "the samples of a split nearest to each text in latent space")
    sub.add_argument("texts", nargs="+", help="texts to look up")
    sub.add_argument("--split", default="train", help="split to search (every window or line once)")
    sub.add_argument("--k", type=Checked(int, AT_LEAST_1), default=5, help="neighbours per text")
    sub = command("map", latent_map, "a 2-D PCA map of a split's posterior means, as a PNG")
    sub.add_argument("--split", default="valid", help="split to map")
    sub.add_argument("--labels", type=PathKind("file"), help="one label per sample of the split, in order")
    sub.add_argument("--out", type=PathKind("output file"), required=True, help="the PNG to write")
    sub.add_argument("--coords", type=PathKind("output file"), help="also write x, y, label per sample (TSV)")
    return parser


def cli_main(argv: Optional[List[str]] = None) -> None:
    configure_output(sys.stderr)  # stdout holds the records
    args = get_parser().parse_args(argv)
    args.run(args)


def main() -> None:
    """hybrid-vae-latent: cli_main with the command-line patches (one-line errors)."""
    patch_for_the_command_line()
    cli_main()


if __name__ == "__main__":
    main()
