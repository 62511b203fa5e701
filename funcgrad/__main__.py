"""`python -m funcgrad COMMAND`: `compare` (the paradigms side by side) or `demo`.

The same commands are the `funcgrad` console script. `python -m funcgrad.demo` keeps working.
"""

from __future__ import annotations

import sys

from .compare.cli import main as compare_main
from .demo import main as demo_main

COMMANDS = {
    "compare": "each example in every paradigm: agreement, time, memory (--help for options)",
    "demo": "the retain_graph question, on the tape and functionally",
}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        lines = [f"  {name:8s} {text}" for name, text in COMMANDS.items()]
        usage = "usage: funcgrad {compare,demo} [options]\n\ncommands:\n" + "\n".join(lines)
        if argv and argv[0] not in ("-h", "--help"):
            print(usage, file=sys.stderr)
            print(f"funcgrad: error: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        print(usage)
        return 0 if argv else 2
    if argv[0] == "compare":
        return compare_main(argv[1:])
    return demo_main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
