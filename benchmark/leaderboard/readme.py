"""Generated blocks in a hand-written Markdown file (the README's findings).

A block is the text between the lines ``<!-- leaderboard:NAME -->`` and ``<!-- /leaderboard:NAME -->``;
:func:`replace_block` swaps it for new text and leaves every other byte of the file as it was, so prose
around generated numbers stays hand-written while the numbers come from the tracking store only.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmark.errors import BenchmarkError, first_line


def markers(name: str) -> tuple[str, str]:
    """The opening and closing marker lines of block ``name``."""
    return f"<!-- leaderboard:{name} -->", f"<!-- /leaderboard:{name} -->"


def block_span(path: Path, name: str) -> tuple[list[str], int, int]:
    """The lines of ``path`` and the indices of block ``name``'s two marker lines.

    The file must hold each marker once, on a line of its own, the opening one first; otherwise the
    error names the file and the markers to add."""
    begin, end = markers(name)
    try:
        lines = path.read_text().splitlines(keepends=True)
    except OSError as error:
        raise BenchmarkError(f"{path}: cannot read it ({error.strerror or first_line(error)})") from None
    except UnicodeDecodeError:
        raise BenchmarkError(f"{path}: not UTF-8 text") from None
    stripped = [line.strip() for line in lines]
    if stripped.count(begin) != 1 or stripped.count(end) != 1 or stripped.index(begin) > stripped.index(end):
        raise BenchmarkError(f"{path}: needs one line `{begin}` and, below it, one line `{end}` around the "
                             f"generated {name} findings; add them where the findings go")
    return lines, stripped.index(begin), stripped.index(end)


def link_from(readme: Path, path: Path) -> str:
    """``path`` as a Markdown link written in ``readme``: relative to its folder, with forward slashes."""
    return Path(os.path.relpath(path, readme.parent)).as_posix()


def replace_block(path: Path, name: str, text: str) -> None:
    """Put ``text`` between the markers of block ``name`` in ``path`` (:func:`block_span`), replacing
    what was there. The new file replaces the old in one rename, so an interrupted write leaves the old
    file whole."""
    lines, first, last = block_span(path, name)
    body = text if text.endswith("\n") else f"{text}\n"
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text("".join(lines[:first + 1]) + body + "".join(lines[last:]))
    os.replace(temporary, path)
