"""The valid range of every numeric option of the plugin, declared beside its default ("range" in a
config field's metadata; `Checked` for argparse), checked at start: out of range is one line.
"""

import argparse
import collections.abc
import dataclasses
import difflib
import math
import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .errors import InputError


@dataclass(frozen=True)
class Range:
    """low <= value <= high (or < where open); None: unbounded on that side."""

    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False
    off: Optional[float] = None  # a value outside the interval that turns the option off (fairseq's -1)

    def __contains__(self, value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if value == self.off:
            return True
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def __str__(self) -> str:
        return self.interval() + ("" if self.off is None else f", or {shown(self.off)} (off)")

    def interval(self) -> str:
        if self.low is None and self.high is None:
            return "a finite number"
        if self.high is None:
            return f"{'above' if self.low_open else 'at least'} {shown(self.low)}"
        if self.low is None:
            return f"{'below' if self.high_open else 'at most'} {shown(self.high)}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"in {left}{shown(self.low)}, {shown(self.high)}{right}"


FINITE = Range()  # any number but inf and nan
AT_LEAST_1 = Range(low=1)  # counts and sizes
AT_LEAST_2 = Range(low=2)
NON_NEGATIVE = Range(low=0)  # weights, update numbers, temperatures where 0 means "the mean"
POSITIVE = Range(low=0, low_open=True)  # scales and temperatures that divide
PROBABILITY = Range(low=0, high=1)


def shown(number: float) -> str:
    """A number as a user would type it: integers in full, others short."""
    return str(int(number)) if math.isfinite(number) and float(number).is_integer() else f"{number:g}"


def option_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def out_of_range(name: str, value: Any, range_: Range, min_items: int = 0,
                 lead: Optional[str] = None) -> Optional[str]:
    """The complaint about `value` of option `name`, or None when it is in range (lists: each item,
    and at least `min_items` of them). `lead` names the value, by default `--name VALUE`."""
    is_list = isinstance(value, collections.abc.Sequence)
    items = list(value) if is_list else [value]
    if is_list and len(items) < min_items:
        return f"{option_name(name)} needs at least {min_items} value(s), each {range_}"
    if all(item in range_ for item in items):
        return None
    lead = (lead or option_name(name) + " ") + ",".join(shown(item) for item in items)
    return f"{lead} is out of range: it must{' each' if is_list else ''} be {range_}"


def check_options(cfg: Any, config_class: type, **parsed: Any) -> None:
    """Raise InputError for the first field of `config_class` whose value in `cfg` (or in `parsed`, for
    options given as text) is out of range."""
    for field in dataclasses.fields(config_class):
        range_ = field.metadata.get("range")
        value = parsed[field.name] if field.name in parsed else getattr(cfg, field.name, None)
        if not isinstance(range_, Range) or value is None or isinstance(value, str):
            continue
        complaint = out_of_range(field.name, value, range_, field.metadata.get("min_items", 0))
        if complaint:
            raise InputError(complaint)


class Checked:
    """An argparse type: converts with `kind`, then requires the value in `range_`."""

    def __init__(self, kind: Callable, range_: Range):
        self.kind, self.range = kind, range_
        self.__name__ = kind.__name__  # argparse names the type in its messages

    def __call__(self, text: str):
        value = self.kind(text)
        if value not in self.range:
            raise argparse.ArgumentTypeError(f"{text} is out of range: it must be {self.range}")
        return value


def wrong_kind(path: str, kind: str) -> Optional[str]:
    """What is wrong with `path` as a `kind` ("file", "folder", "output folder", "output file"), or None."""
    if kind == "file" and not os.path.isfile(path):
        return f"{path} is {'a folder' if os.path.isdir(path) else 'missing'}: give a file"
    if kind == "folder" and not os.path.isdir(path):
        return f"{path} is {'a file' if os.path.exists(path) else 'missing'}: give a folder"
    if kind == "output folder" and os.path.exists(path) and not os.path.isdir(path):
        return f"{path} is a file: give a folder to write into"
    if kind == "output file" and os.path.isdir(path):
        return f"{path} is a folder: give a file name to write"
    if kind.startswith("output"):
        # The folder it is written in (for a folder: itself, or its nearest existing ancestor).
        start = os.path.abspath(path) if kind == "output folder" else os.path.dirname(os.path.abspath(path))
        parent = existing_parent(start)
        if not os.path.isdir(parent):
            return f"{path}: {parent} is a file, not a folder: choose another place"
        if not os.access(parent, os.W_OK):
            return f"{path}: {parent} is not writable: choose another place"
    return None


class Validated:
    """An argparse type for a value a function checks (it raises ArgumentTypeError); `bad` is a
    value it refuses, for tests."""

    def __init__(self, check: Callable[[str], Any], bad: str):
        self.check, self.bad = check, bad
        self.__name__ = check.__name__

    def __call__(self, text: str):
        return self.check(text)


class PathKind:
    """An argparse type for a path: an existing file, an existing folder, or a folder or file to write."""

    def __init__(self, kind: str):
        assert kind in ("file", "folder", "output folder", "output file")
        self.kind = kind
        self.__name__ = kind

    def __call__(self, path: str) -> str:
        complaint = wrong_kind(path, self.kind)
        if complaint:
            raise argparse.ArgumentTypeError(complaint)
        return path


def existing_parent(path: str) -> str:
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad option is one line (`PROG: error: ...`) and exit status 1, not 2 and usage;
    a misspelt option or choice is answered with the closest the parser knows."""

    def error(self, message: str):
        sys.exit(f"{self.prog}: error: {with_closest(self, message)}")


CHOICES_LISTED = 12  # an invalid choice among more (fairseq's --arch: about 200) shows the closest only


def with_closest(parser: argparse.ArgumentParser, message: str) -> str:
    """argparse's message, with the closest options to unrecognized ones (or a pointer to --help), and
    the closest choices in place of a long list of them."""
    invalid = re.match(r"(.*invalid choice: '([^']*)') \(choose from (.*)\)$", message)
    if invalid and invalid[3].count(",") >= CHOICES_LISTED:
        close = difflib.get_close_matches(invalid[2], re.findall(r"'([^']*)'", invalid[3]), n=3)
        return f"{invalid[1]} ({'did you mean ' + ', '.join(close) + '?' if close else '--help lists them'})"
    if not message.startswith("unrecognized arguments: "):
        return message
    known = [flag for action in parser._actions for flag in action.option_strings]
    given = [arg.split("=")[0] for arg in message.split(": ", 1)[1].split() if arg.startswith("--")]
    close = [f"{arg}: did you mean {match[0]}?" for arg in given
             if (match := difflib.get_close_matches(arg, known, n=1, cutoff=0.8))]
    return f"{message} ({'; '.join(close) if close else '--help lists every option'})"
