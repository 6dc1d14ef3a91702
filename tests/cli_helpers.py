"""Running the installed console scripts as a user would."""

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def script(name: str) -> str:
    """Path of an installed console script (beside this Python first, then on PATH)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"console script {name} is not installed: pip install -e ."
    return found


def run_script(name: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([script(name), *args], capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit code 2, exactly one line on stderr containing every fragment, no traceback."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def assert_main_error(main: Callable[[list[str]], int], capsys, argv: list[str], *fragments: str) -> None:
    """``main(argv)`` in this process: exit code 2 and one line on stderr holding every fragment."""
    code = main(argv)
    err = capsys.readouterr().err
    assert_one_line_error(subprocess.CompletedProcess(argv, code, "", err), *fragments)
