"""The drift report: a table for people, JSON for CI.

Both are built from observations and differences only, which hold no secret by construction.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from .compare import Difference

#: Column widths of the text table (the last one may overflow rather than cut a setting's name).
_WIDTHS = (24, 34, 26, 26, 40)
_TITLES = ("step", "where", "live", "mock", "to match")


@dataclass(frozen=True)
class Summary:
    """What ran against what; the header of both report forms."""

    live: str
    mock: str
    mandator: str
    steps: int
    ignored_headers: Sequence[str]


def text_report(summary: Summary, differences: Sequence[Difference]) -> str:
    ignored = ", ".join(summary.ignored_headers)
    lines = [
        f"Drift check, realm {summary.mandator}: live {summary.live} vs {summary.mock}",
        *textwrap.wrap(
            f"{summary.steps} steps compared; headers ignored: {ignored}",
            100,
            subsequent_indent="  ",
            break_on_hyphens=False,
        ),
        "",
    ]
    if not differences:
        lines.append("No drift: the mock answered every step like the live server.")
        return "\n".join(lines) + "\n"
    count = len(differences)
    lines.append(f"DRIFT: {count} difference{'s' if count != 1 else ''}")
    lines.append("")
    lines.extend(
        _table([_TITLES, *((d.step, d.where, d.live, d.mock, d.hint) for d in differences)])
    )
    return "\n".join(lines) + "\n"


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    out: list[str] = []
    for number, row in enumerate(rows):
        cells = [
            # The last column may run long rather than cut an option name in two.
            textwrap.wrap(
                text, width - 1, break_on_hyphens=False, break_long_words=column < len(_WIDTHS) - 1
            )
            or [""]
            for column, (text, width) in enumerate(zip(row, _WIDTHS, strict=True))
        ]
        for index in range(max(len(c) for c in cells)):
            parts = [
                (cell[index] if index < len(cell) else "").ljust(width)
                for cell, width in zip(cells, _WIDTHS, strict=True)
            ]
            out.append("".join(parts).rstrip())
        if number == 0:
            out.append("".join("-" * (w - 1) + " " for w in _WIDTHS).rstrip())
    return out


def json_report(summary: Summary, differences: Sequence[Difference]) -> str:
    document = {
        "drift": bool(differences),
        "live": summary.live,
        "mock": summary.mock,
        "mandator": summary.mandator,
        "steps": summary.steps,
        "ignored_headers": list(summary.ignored_headers),
        "differences": [d.as_dict() for d in differences],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


__all__ = ["Summary", "json_report", "text_report"]
