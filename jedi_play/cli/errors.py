"""User-facing errors: one clear line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

EXIT_USAGE = 2


class UserError(Exception):
    """Bad input from the user (unknown game, missing folder, corrupt file...).

    Console scripts print ``prog: error: <message>`` and exit with code 2.
    """


def run_main(prog: str, main: Callable[[], int | None]) -> int:
    """Run a console script's body, turning ``UserError`` into one line and exit code 2."""
    try:
        return int(main() or 0)
    except UserError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
