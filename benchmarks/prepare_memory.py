"""hybrid-vae-prepare on growing corpora: wall time and peak resident memory, as a table.

Each corpus is the given text repeated up to a size (e.g. PTB's ptb.train.txt to 100 MB and 1 GB),
prepared with --train alone (train/valid/test split off it) by a fresh process under /usr/bin/time.

    python benchmarks/prepare_memory.py ../shared/data/ptb/ptb.train.txt --sizes-mb 100,1000 \
        --work /tmp/prepare-memory
    python benchmarks/prepare_memory.py ../shared/data/ptb/ptb.train.txt --sizes-mb 100 --one-line \
        --work /tmp/prepare-memory   # a corpus on one line, as text8
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys


def corpus_of_size(text: str, megabytes: int, path: str, one_line: bool = False) -> None:
    """`text` repeated until the file holds at least `megabytes` MB (10^6 bytes); with `one_line`, its
    line breaks made spaces: one line, as text8 is."""
    with open(text, "rb") as f:
        block = f.read()
    if one_line:
        block = block.replace(b"\n", b" ")
    with open(path, "wb") as out:
        for _ in range(-(-megabytes * 10**6 // len(block))):
            out.write(block)


def measure(corpus: str, destdir: str) -> dict:
    """One hybrid-vae-prepare process: its wall seconds and peak resident memory."""
    prepare = os.path.join(os.path.dirname(sys.executable), "hybrid-vae-prepare")
    command = ["/usr/bin/time", "-f", "%e %M", prepare, "--train", corpus, "--destdir", destdir]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"prepare_memory: hybrid-vae-prepare failed on {corpus}: {result.stderr[-500:]}")
    seconds, kilobytes = result.stderr.strip().splitlines()[-1].split()
    return {"seconds": float(seconds), "peak_mb": int(kilobytes) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text", help="a UTF-8 text file to repeat")
    parser.add_argument("--sizes-mb", default="100,1000", help="corpus sizes in MB")
    parser.add_argument("--one-line", action="store_true", help="the corpus on one line (text8's shape)")
    parser.add_argument("--work", required=True, help="scratch folder (the corpora are written there)")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    shape = ", on one line" if args.one_line else ""
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{args.text} repeated{shape}\n")
    print("| corpus | lines | wall time | peak resident memory | peak per MB of text |")
    print("|---|---|---|---|---|")
    for megabytes in [int(size) for size in args.sizes_mb.split(",")]:
        corpus = os.path.join(args.work, f"{megabytes}mb.txt")
        destdir = os.path.join(args.work, f"{megabytes}mb")
        corpus_of_size(args.text, megabytes, corpus, args.one_line)
        with open(corpus, "rb") as f:
            breaks = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 24), b""))
        lines = 1 if args.one_line else breaks
        shutil.rmtree(destdir, ignore_errors=True)
        found = measure(corpus, destdir)
        print(f"| {os.path.getsize(corpus) / 1e6:,.0f} MB | {lines:,} | {found['seconds']:.0f} s | "
              f"{found['peak_mb']:,.0f} MB | {found['peak_mb'] / megabytes:.2f} |", flush=True)
        os.remove(corpus)
        shutil.rmtree(destdir)


if __name__ == "__main__":
    main()
