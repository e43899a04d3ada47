"""`--help` that lists the task, model and criterion options: fairseq's parser answers --help in its first
pass, before it adds them. Without --help, fairseq's own misleading values are refused, and a bad option
is one line (fairseq's parser printed its usage first, about 150 lines, and exited with status 2).
"""

import sys
import types

from fairseq import options
from fairseq.models import ARCH_MODEL_REGISTRY

from ..common.errors import InputError
from ..common.option_ranges import OneLineArgumentParser
from .fairseq_options import check_fairseq_options

_HELP_FLAGS = ("-h", "--help")
_fairseq_parse_args_and_arch = options.parse_args_and_arch
PACKAGE = __name__.split(".")[0]


def plugin_archs() -> list:
    """The plugin's architectures without a preset suffix."""
    return [arch for arch, model in ARCH_MODEL_REGISTRY.items()
            if model.__module__.startswith(PACKAGE) and not arch.endswith(("_ptb", "_tweets"))]


def parse_args_and_arch(parser, input_args=None, parse_known=False, suppress_defaults=False,
                        modify_parser=None):
    parser.error = types.MethodType(OneLineArgumentParser.error, parser)
    argv = sys.argv[1:] if input_args is None else list(input_args)
    if not any(flag in argv for flag in _HELP_FLAGS):
        try:
            parsed = _fairseq_parse_args_and_arch(
                parser, input_args, parse_known, suppress_defaults, modify_parser
            )
        except RuntimeError as error:
            if str(error):
                raise
            # fairseq's bare RuntimeError() for an arch in no registry: argparse checked a given one
            raise InputError(f"--arch is missing: choose one of the plugin's, {', '.join(plugin_archs())} "
                             "(or their *_ptb and *_tweets presets)") from None
        check_fairseq_options(parsed[0] if parse_known else parsed)
        return parsed
    rest = [arg for arg in argv if arg not in _HELP_FLAGS]
    try:
        # A placeholder for the positional DATA, which --help does not need.
        _fairseq_parse_args_and_arch(parser, rest + ["DATA"], True, suppress_defaults, modify_parser)
    except (SystemExit, Exception):
        pass  # fall back to whatever the parser knows so far
    parser.print_help()
    sys.exit(0)

