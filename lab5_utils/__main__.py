"""``python -m lab5_utils <command> ...``: render, evaluator, train, generate, export, cache."""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "render": ("lab5_utils.render", "main", "render the synthetic i-CLEVR set"),
    "cache": ("lab5_utils.dataset", "main", "build the preprocessed uint8 cache of a data folder"),
    "evaluator": ("lab5_utils.judge", "main", "train or run the judge (course-format ResNet18)"),
    "train": ("lab5_utils.cli_train", "main", "train a GAN preset"),
    "generate": ("lab5_utils.cli_train", "main_generate", "write an 8-per-row grid for a condition file"),
    "export": ("lab5_utils.cli_train", "main_export", "ship a measured run's generator and judge under weights/"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in COMMANDS:
        lines = [f"  {name:<10} {help_}" for name, (_, _, help_) in COMMANDS.items()]
        print("usage: python -m lab5_utils <command> [args]\n\ncommands:\n" + "\n".join(lines))
        if argv and argv[0] not in {"-h", "--help"}:
            print(f"\nunknown command {argv[0]!r}", file=sys.stderr)
            return 2
        return 0
    module_name, function_name, _ = COMMANDS[argv[0]]
    function = getattr(importlib.import_module(module_name), function_name)
    return int(function(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
