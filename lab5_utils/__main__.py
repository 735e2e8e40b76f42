"""``python -m lab5_utils <command> ...``: render, evaluator, train, generate, export, cache."""

from __future__ import annotations

import importlib
import os
import sys

from PIL import Image

from lab5_utils.run_folder import RunLockedError

# errors a user can act on (bad values, missing / corrupt / unwritable files, a held folder, a diverged run);
# anything else is a bug and keeps its traceback
USER_ERRORS = (ValueError, OSError, RunLockedError, FloatingPointError, Image.DecompressionBombError)

COMMANDS = {
    "render": ("lab5_utils.render", "main", "render the synthetic i-CLEVR set"),
    "cache": ("lab5_utils.dataset", "main", "build the preprocessed uint8 cache of a data folder"),
    "evaluator": ("lab5_utils.judge", "main", "train or run the judge (course-format ResNet18)"),
    "train": ("lab5_utils.cli_train", "main", "train a GAN preset"),
    "generate": ("lab5_utils.cli_train", "main_generate", "write an 8-per-row grid for a condition file"),
    "export": ("lab5_utils.cli_train", "main_export", "ship a measured run's generator and judge under weights/"),
}


def main(argv: list[str] | None = None) -> int:
    """Run one command. A mistake the user can fix (a bad value, a missing or corrupt file, a locked or full run
    folder) ends in ONE line naming the file or field and exit status 2; ``--debug`` (anywhere on the line) or
    ``LAB5_DEBUG=1`` shows the traceback instead. torch threads follow ``train_utils.configure_threads``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("LAB5_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in COMMANDS:
        lines = [f"  {name:<10} {help_}" for name, (_, _, help_) in COMMANDS.items()]
        print("usage: python -m lab5_utils <command> [args]\n\ncommands:\n" + "\n".join(lines))
        if argv and argv[0] not in {"-h", "--help"}:
            print(f"\nunknown command {argv[0]!r}", file=sys.stderr)
            return 2
        return 0
    module_name, function_name, _ = COMMANDS[argv[0]]
    try:
        from lab5_utils.train_utils import configure_threads

        configure_threads()
        function = getattr(importlib.import_module(module_name), function_name)
        return int(function(argv[1:]) or 0)
    except USER_ERRORS as err:
        if debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = ": the run continues from its last checkpoint with --resume" if argv[0] == "train" else ""
        print(f"interrupted{hint}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
