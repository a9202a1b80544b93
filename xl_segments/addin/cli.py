"""The ``xl-segments addin`` commands (build the Excel add-in); main registers the group."""

from __future__ import annotations

from pathlib import Path

import click

from xl_segments.addin.build import ADDIN_NAME, AddinError, build_addin

BAD_INPUT = 2  # the exit code of every xl-segments command refusing its input


class AddinBuildFailed(click.ClickException):
    """An AddinError as the command line shows it: exit code 2, the message, no traceback."""

    exit_code = BAD_INPUT


@click.group()
def addin() -> None:
    """The xl-segments Excel add-in (ribbon tab and formulas)."""


@addin.command("build")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path(ADDIN_NAME),
    show_default=True,
    help="Where to write the add-in (an .xlam file, or a folder for XLSegments.xlam).",
)
def build(out: Path) -> None:
    """Build XLSegments.xlam for the Excel and Python of this machine.

    The add-in runs this Python, so build it where Excel runs, with the Python that has
    xl-segments installed; then install it with `xlwings addin install -f XLSegments.xlam`.
    """
    try:
        path = build_addin(out)
    except AddinError as exc:
        raise AddinBuildFailed(str(exc)) from None
    click.echo(f"Wrote the add-in to {path.resolve()}")
