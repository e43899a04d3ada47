"""Helpers the benchmarks share: a vocabulary of a given size and a median wall-clock time."""

import statistics
import time
from typing import Callable

from fairseq.data import Dictionary


def dictionary_of(size: int) -> Dictionary:
    """fairseq's 4 special symbols plus made-up units: PTB has 53 types, the authors' tweets 259."""
    dictionary = Dictionary()
    for i in range(size - len(dictionary)):
        dictionary.add_symbol(chr(0x4E00 + i))
    return dictionary


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median of `repeats` timed calls, after one untimed warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
