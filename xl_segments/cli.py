"""The command line: parse arguments, call one library function, report in plain words.

Exit codes: 0 success, 2 bad input (a one-paragraph message on stderr, no traceback).
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from xl_segments import __version__
from xl_segments.errors import SegmentsError
from xl_segments.settings import CHANNEL_METRICS

BAD_INPUT = 2
stderr = Console(stderr=True, highlight=False)
stdout = Console(highlight=False)


class BadInput(click.ClickException):
    """A SegmentsError as the command line shows it: exit code 2, message, no traceback."""

    exit_code = BAD_INPUT

    def show(self, file: Any = None) -> None:
        stderr.print(f"[bold red]Error:[/] {escape(self.message)}", soft_wrap=True)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn our errors (and a locked or unwritable file) into a clean message and exit 2."""
    try:
        yield
    except SegmentsError as error:
        raise BadInput(str(error)) from None
    except MemoryError:
        raise BadInput(
            "Not enough memory to read these orders. Close other programs, or split the orders "
            "into smaller files (by year, say) and refresh each."
        ) from None
    except PermissionError as error:
        raise BadInput(
            f'Cannot write "{error.filename}": permission denied. If the file is open in '
            "Excel, close it and run again."
        ) from None


@contextmanager
def progress_display(enabled: bool) -> Iterator[Callable[[str], None]]:
    """A spinner naming the current stage on stderr (quiet when not a terminal)."""
    if not enabled or not stderr.is_terminal:
        yield lambda stage: None
        return
    with stderr.status("Starting") as status:
        yield lambda stage: status.update(stage + "...")


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    seen = set()
    for warning in caught:
        text = str(warning.message)
        if text not in seen:
            seen.add(text)
            stderr.print(f"[yellow]Note:[/] {escape(text)}", soft_wrap=True)


def _print_summary(result: Any) -> None:
    segments = result.segments
    table = segments.customers.frame
    stdout.print(f"[bold green]Wrote[/] {escape(str(result.output))}")
    stdout.print(
        f"  {len(table):,} customers, {int(table['orders'].sum()):,} orders, "
        f"revenue {table['lifetime_value'].sum():,.2f}, as of {segments.as_of.date()}"
    )
    p = segments.pareto
    if p.top_revenue_share is not None and p.customer_share_needed is not None:
        stdout.print(
            f"  Top {p.top_share:.0%} of customers bring {p.top_revenue_share:.1%} of revenue; "
            f"{p.customer_share_needed:.1%} of customers bring {p.revenue_share:.0%}."
        )
    for sheet_table in result.report.tables:
        if "Note" in sheet_table.frame.columns and len(sheet_table.frame.columns) == 1:
            stdout.print(f"  {sheet_table.sheet}: skipped", markup=False)
            continue
        left = segments.left_out.get(sheet_table.sheet)
        extra = (
            f" ({left.total:,} left out: no consent or suppressed)" if left and left.total else ""
        )
        stdout.print(f"  {sheet_table.sheet}: {len(sheet_table.frame):,} rows{extra}", markup=False)
    for path in result.csv_files:
        stdout.print(f"  CSV: {path}", markup=False)
    timing = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in result.stages.items())
    stdout.print(f"  Done in {result.seconds:.1f}s ({timing}).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xl-segments")
def main() -> None:
    """Customer contact lists from an ecommerce order table: biggest spenders, top
    channels, churn risk."""
    # fastexcel logs dtype guesses (e.g. for an all-blank column) that mean nothing to a user.
    logging.getLogger("fastexcel").setLevel(logging.ERROR)


@main.command()
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("out/xl-segments-demo.xlsx"),
    show_default=True,
    help="Where to write the demo workbook.",
)
@click.option("--quiet", is_flag=True, help="No progress display.")
def demo(out: Path, quiet: bool) -> None:
    """Write the template refreshed with the bundled sample store's orders."""
    from xl_segments.workbook.files import make_demo

    with user_errors(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with progress_display(not quiet) as progress:
            result = make_demo(out, progress=progress)
    _print_warnings(caught)
    _print_summary(result)


SETTING_OPTIONS: list[tuple[str, str, Any, str]] = [
    ("--as-of", "as_of", click.DateTime(["%Y-%m-%d"]), "Compute as of this day (YYYY-MM-DD)."),
    ("--top-share", "top_share", str, "Share of customers listed as top spenders, e.g. 20%."),
    ("--revenue-share", "revenue_share", str, "Revenue share of the Pareto point, e.g. 80%."),
    ("--top-channels", "top_channels", int, "How many channels are flagged top."),
    (
        "--min-channel-customers",
        "min_channel_customers",
        int,
        "Smallest channel (customers) that is ranked.",
    ),
    (
        "--rank-channels-by",
        "rank_channels_by",
        click.Choice(CHANNEL_METRICS),
        "The figure channels are ranked by.",
    ),
    ("--repeat-channel", "repeat_channel", str, "List repeat customers of this channel only."),
    ("--churn-multiplier", "churn_multiplier", float, "At risk past expected gap x this."),
    ("--lapsed-multiplier", "lapsed_multiplier", float, "Lapsed past expected gap x this."),
    ("--churn-window-days", "churn_window_days", float, "Monthly churn window in days."),
    ("--date-format", "date_format", str, "Format of text dates, e.g. %d/%m/%Y."),
    ("--timezone", "timezone", str, "Time zone that dated times are converted to."),
]


def _setting_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for flag, name, kind, help_text in reversed(SETTING_OPTIONS):
        command = click.option(flag, name, type=kind, default=None, help=help_text)(command)
    return command


@main.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The workbook to write (.xlsx, or .xlsm for a macro workbook).",
)
@click.option("--sheet", default=None, help="Read orders from this sheet instead of Orders.")
@click.option(
    "--csv-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write each contact list as a CSV file into this folder.",
)
@click.option("--in-place", is_flag=True, help="Allow --out to be the input file.")
@click.option(
    "--include-non-consenting",
    is_flag=True,
    default=None,
    help="Also list customers who did not accept marketing.",
)
@click.option(
    "--decimal-comma",
    is_flag=True,
    default=None,
    help="Text amounts use a decimal comma (1.234,50).",
)
@click.option(
    "--suppress",
    "suppress_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A text file of emails never to list.",
)
@click.option("--quiet", is_flag=True, help="No progress display.")
@_setting_options
def refresh(
    source: Path,
    output: Path,
    sheet: str | None,
    csv_dir: Path | None,
    in_place: bool,
    suppress_file: Path | None,
    quiet: bool,
    **settings: Any,
) -> None:
    """Read orders from SOURCE (a workbook's Orders table or sheet, or a CSV file) and its
    Settings sheet, and write every list into the workbook --out."""
    from xl_segments.workbook.files import refresh_file

    overrides = {k: v for k, v in settings.items() if v is not None}
    if overrides.get("as_of") is not None:
        overrides["as_of"] = overrides["as_of"].date()
    with user_errors(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if suppress_file is not None:
            emails = suppress_file.read_text(encoding="utf-8-sig").split()
            overrides["suppressed_emails"] = ",".join(e.strip(",;") for e in emails)
        with progress_display(not quiet) as progress:
            result = refresh_file(
                source,
                output,
                sheet=sheet,
                overrides=overrides,
                csv_dir=csv_dir,
                in_place=in_place,
                progress=progress,
            )
    _print_warnings(caught)
    _print_summary(result)


@main.command("excel-config")
@click.option(
    "--folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write xlwings.conf (default: your ~/.xlwings folder).",
)
def excel_config(folder: Path | None) -> None:
    """Write the xlwings.conf that registers the xl-segments formulas with Excel."""
    from xl_segments.excel_setup import default_config_folder, write_xlwings_conf

    with user_errors():
        target = folder if folder is not None else default_config_folder()
        target.mkdir(parents=True, exist_ok=True)
        path = write_xlwings_conf(target)
    stdout.print(f"[bold green]Wrote[/] {escape(str(path))}")


from xl_segments.addin.cli import addin  # noqa: E402  (the add-in commands live with the add-in)

main.add_command(addin)


def run() -> None:
    """Entry point that never shows a traceback for our own errors."""
    main(prog_name="xl-segments")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
