"""DrawingML for the Summary charts: chart parts that reference block cells, and their drawing."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from xl_segments.errors import WorkbookError
from xl_segments.tables import Block, Chart
from xl_segments.workbook.package import REL_NS, xml_attr
from xl_segments.workbook.sheetxml import BlockLayout, col_letter, xml_text

C_NS = "http://schemas.openxmlformats.org/drawingml/2006/chart"
A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
XDR_NS = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"

# Where charts go, in cells: right of the blocks, stacked with a gap.
CHART_WIDTH_COLS = 9
CHART_HEIGHT_ROWS = 18
CHART_GAP_ROWS = 2

# Cached number formats and axis labels by column kind.
_CACHE_FORMATS = {
    "money": "#,##0.00",
    "percent": "0.0%",
    "integer": "0",
    "number": "0.00",
    "days": "0.0",
    "date": "yyyy-mm-dd",
}
_AXIS_FORMATS = {"money": "#,##0", "percent": "0%", "integer": "0", "days": "0"}
_SERIES_COLOURS = ("accent1", "accent2", "accent3", "accent4", "accent5", "accent6")


def quote_sheet(name: str) -> str:
    """A sheet name as formulas write it, always quoted: 'Summary', 'Bob''s'."""
    return "'" + name.replace("'", "''") + "'"


def _ref(sheet: str, col: int, first: int, last: int) -> str:
    letter = col_letter(col)
    if first == last:
        return f"{quote_sheet(sheet)}!${letter}${first}"
    return f"{quote_sheet(sheet)}!${letter}${first}:${letter}${last}"


@dataclass(frozen=True)
class _Column:
    header: str
    ref_header: str
    ref: str
    values: list[object]
    kind: str


def _column(block: Block, layout: BlockLayout, sheet: str, name: str) -> _Column:
    if name not in layout.columns:
        raise WorkbookError(
            f"The chart column {name!r} is not in the Summary block {block.key!r}; "
            f"it has {', '.join(map(repr, layout.columns))}."
        )
    j = layout.columns[name]
    first = layout.first_row
    # An empty block still gets a one-row range so the reference stays valid.
    last = max(layout.last_row, first)
    values = list(block.frame.iloc[:, j]) if len(block.frame) else []
    return _Column(
        header=name,
        ref_header=_ref(sheet, j, layout.header_row, layout.header_row),
        ref=_ref(sheet, j, first, last),
        values=values,
        kind=block.kinds.get(name, "text"),
    )


def _number(value: object) -> float | None:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _num_ref(col: _Column) -> str:
    points = []
    for i, v in enumerate(col.values):
        number = _number(v)
        if number is not None:
            points.append(f'<c:pt idx="{i}"><c:v>{number!r}</c:v></c:pt>')
    fmt = _CACHE_FORMATS.get(col.kind, "General")
    return (
        f"<c:numRef><c:f>{xml_text(col.ref)}</c:f><c:numCache>"
        f"<c:formatCode>{xml_text(fmt)}</c:formatCode>"
        f'<c:ptCount val="{max(len(col.values), 1)}"/>{"".join(points)}'
        "</c:numCache></c:numRef>"
    )


def _str_ref(col: _Column) -> str:
    points = []
    for i, v in enumerate(col.values):
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            continue
        points.append(f'<c:pt idx="{i}"><c:v>{xml_text(str(v))}</c:v></c:pt>')
    return (
        f"<c:strRef><c:f>{xml_text(col.ref)}</c:f><c:strCache>"
        f'<c:ptCount val="{max(len(col.values), 1)}"/>{"".join(points)}'
        "</c:strCache></c:strRef>"
    )


def _series_name(col: _Column) -> str:
    return (
        f"<c:tx><c:strRef><c:f>{xml_text(col.ref_header)}</c:f><c:strCache>"
        f'<c:ptCount val="1"/><c:pt idx="0"><c:v>{xml_text(col.header)}</c:v></c:pt>'
        "</c:strCache></c:strRef></c:tx>"
    )


def _rich(text: str, size: int = 1400, rotate: bool = False) -> str:
    body = '<a:bodyPr rot="-5400000" vert="horz"/>' if rotate else "<a:bodyPr/>"
    return (
        f'<c:tx><c:rich>{body}<a:lstStyle/><a:p><a:pPr><a:defRPr sz="{size}" b="0"/></a:pPr>'
        f'<a:r><a:rPr lang="en-US" sz="{size}" b="0"/><a:t>{xml_text(text)}</a:t></a:r></a:p>'
        "</c:rich></c:tx>"
    )


def _title(text: str, size: int = 1400, rotate: bool = False) -> str:
    if not text:
        return ""
    return f'<c:title>{_rich(text, size, rotate)}<c:overlay val="0"/></c:title>'


def _line_props(i: int, width: int = 28575) -> str:
    colour = _SERIES_COLOURS[i % len(_SERIES_COLOURS)]
    return (
        f'<c:spPr><a:ln w="{width}" cap="rnd"><a:solidFill><a:schemeClr val="{colour}"/>'
        "</a:solidFill><a:round/></a:ln></c:spPr>"
    )


def _fill_props(i: int) -> str:
    colour = _SERIES_COLOURS[i % len(_SERIES_COLOURS)]
    return f'<c:spPr><a:solidFill><a:schemeClr val="{colour}"/></a:solidFill></c:spPr>'


def _axis_format(kind: str) -> str:
    fmt = _AXIS_FORMATS.get(kind, "General")
    return f'<c:numFmt formatCode="{xml_attr(fmt)}" sourceLinked="0"/>'


def _scaling(col: _Column) -> str:
    # Share axes run 0-100% so curves of different data compare at a glance.
    numbers = [n for n in map(_number, col.values) if n is not None]
    if col.kind == "percent" and numbers and min(numbers) >= 0 and max(numbers) <= 1:
        return (
            '<c:scaling><c:orientation val="minMax"/><c:max val="1"/><c:min val="0"/></c:scaling>'
        )
    return '<c:scaling><c:orientation val="minMax"/></c:scaling>'


def _val_axis(
    ax_id: int,
    cross: int,
    pos: str,
    col: _Column,
    title: str,
    *,
    gridlines: bool,
    crosses: str = "autoZero",
    between: str = "between",
) -> str:
    grid = "<c:majorGridlines/>" if gridlines else ""
    return (
        f'<c:valAx><c:axId val="{ax_id}"/>{_scaling(col)}<c:delete val="0"/>'
        f'<c:axPos val="{pos}"/>{grid}{_title(title, 1000, rotate=pos in ("l", "r"))}'
        f'{_axis_format(col.kind)}<c:majorTickMark val="out"/><c:minorTickMark val="none"/>'
        f'<c:tickLblPos val="nextTo"/><c:crossAx val="{cross}"/><c:crosses val="{crosses}"/>'
        f'<c:crossBetween val="{between}"/></c:valAx>'
    )


def _cat_axis(ax_id: int, cross: int, title: str, *, deleted: bool = False) -> str:
    return (
        f'<c:catAx><c:axId val="{ax_id}"/><c:scaling><c:orientation val="minMax"/></c:scaling>'
        f'<c:delete val="{int(deleted)}"/><c:axPos val="b"/>{_title(title, 1000)}'
        '<c:numFmt formatCode="General" sourceLinked="1"/><c:majorTickMark val="out"/>'
        f'<c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/><c:crossAx val="{cross}"/>'
        '<c:crosses val="autoZero"/><c:auto val="1"/><c:lblAlgn val="ctr"/>'
        '<c:lblOffset val="100"/><c:noMultiLvlLbl val="0"/></c:catAx>'
    )


def _y_title(chart: Chart, i: int) -> str:
    return chart.y_titles[i] if i < len(chart.y_titles) else ""


def _scatter(chart: Chart, x: _Column, ys: Sequence[_Column]) -> str:
    series = "".join(
        f'<c:ser><c:idx val="{i}"/><c:order val="{i}"/>{_series_name(y)}{_line_props(i)}'
        f'<c:marker><c:symbol val="none"/></c:marker><c:xVal>{_num_ref(x)}</c:xVal>'
        f'<c:yVal>{_num_ref(y)}</c:yVal><c:smooth val="0"/></c:ser>'
        for i, y in enumerate(ys)
    )
    return (
        '<c:scatterChart><c:scatterStyle val="lineMarker"/><c:varyColors val="0"/>'
        f'{series}<c:axId val="1001"/><c:axId val="1002"/></c:scatterChart>'
        + _val_axis(1001, 1002, "b", x, chart.x_title, gridlines=False, between="midCat")
        + _val_axis(1002, 1001, "l", ys[0], _y_title(chart, 0), gridlines=True, between="midCat")
    )


def _categories(x: _Column) -> str:
    numeric = x.kind not in ("text", "flag") and all(_number(v) is not None for v in x.values)
    return f"<c:cat>{_num_ref(x) if numeric else _str_ref(x)}</c:cat>"


def _bar_line(chart: Chart, x: _Column, ys: Sequence[_Column]) -> str:
    bar = ys[0]
    xml = (
        '<c:barChart><c:barDir val="col"/><c:grouping val="clustered"/><c:varyColors val="0"/>'
        f'<c:ser><c:idx val="0"/><c:order val="0"/>{_series_name(bar)}{_fill_props(0)}'
        f'<c:invertIfNegative val="0"/>{_categories(x)}<c:val>{_num_ref(bar)}</c:val></c:ser>'
        '<c:gapWidth val="150"/><c:axId val="2001"/><c:axId val="2002"/></c:barChart>'
    )
    lines = ys[1:]
    if lines:
        series = "".join(
            f'<c:ser><c:idx val="{i}"/><c:order val="{i}"/>{_series_name(y)}{_line_props(i)}'
            f'<c:marker><c:symbol val="circle"/><c:size val="6"/></c:marker>{_categories(x)}'
            f'<c:val>{_num_ref(y)}</c:val><c:smooth val="0"/></c:ser>'
            for i, y in enumerate(lines, start=1)
        )
        xml += (
            '<c:lineChart><c:grouping val="standard"/><c:varyColors val="0"/>'
            f'{series}<c:marker val="1"/><c:axId val="2003"/><c:axId val="2004"/></c:lineChart>'
        )
    xml += _cat_axis(2001, 2002, chart.x_title)
    xml += _val_axis(2002, 2001, "l", bar, _y_title(chart, 0), gridlines=True)
    if lines:
        xml += _cat_axis(2003, 2004, "", deleted=True)
        xml += _val_axis(
            2004, 2003, "r", lines[0], _y_title(chart, 1), gridlines=False, crosses="max"
        )
    return xml


def chart_xml(chart: Chart, block: Block, layout: BlockLayout, sheet: str) -> bytes:
    """One chart part, its series pointing at the block's cells on `sheet`, values cached."""
    if not chart.y_columns:
        raise WorkbookError(f"The chart {chart.title!r} has no y columns to draw.")
    x = _column(block, layout, sheet, chart.x_column)
    ys = [_column(block, layout, sheet, name) for name in chart.y_columns]
    if chart.kind == "scatter":
        plot = _scatter(chart, x, ys)
    elif chart.kind == "bar_line":
        plot = _bar_line(chart, x, ys)
    else:
        raise WorkbookError(f"Unknown chart kind {chart.kind!r}; expected scatter or bar_line.")
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<c:chartSpace xmlns:c="{C_NS}" xmlns:a="{A_NS}" xmlns:r="{REL_NS}">'
        '<c:roundedCorners val="0"/><c:chart>'
        f'{_title(chart.title)}<c:autoTitleDeleted val="{int(not chart.title)}"/>'
        f"<c:plotArea><c:layout/>{plot}</c:plotArea>"
        '<c:legend><c:legendPos val="b"/><c:overlay val="0"/></c:legend>'
        '<c:plotVisOnly val="1"/><c:dispBlanksAs val="gap"/></c:chart></c:chartSpace>'
    ).encode()


@dataclass(frozen=True)
class Anchor:
    """A chart's place on the sheet, in 0-based cells, and the drawing's rel id for it."""

    col: int
    row: int
    rel_id: str
    name: str


def anchors_for(
    count: int, first_col: int, rel_ids: Sequence[str], names: Sequence[str]
) -> list[Anchor]:
    return [
        Anchor(first_col, i * (CHART_HEIGHT_ROWS + CHART_GAP_ROWS), rel_ids[i], names[i])
        for i in range(count)
    ]


def drawing_xml(anchors: Sequence[Anchor]) -> bytes:
    parts = []
    for n, a in enumerate(anchors, start=2):
        parts.append(
            '<xdr:twoCellAnchor editAs="oneCell">'
            f"<xdr:from><xdr:col>{a.col}</xdr:col><xdr:colOff>0</xdr:colOff>"
            f"<xdr:row>{a.row}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>"
            f"<xdr:to><xdr:col>{a.col + CHART_WIDTH_COLS}</xdr:col><xdr:colOff>0</xdr:colOff>"
            f"<xdr:row>{a.row + CHART_HEIGHT_ROWS}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>"
            '<xdr:graphicFrame macro=""><xdr:nvGraphicFramePr>'
            f'<xdr:cNvPr id="{n}" name="{xml_attr(a.name)}"/><xdr:cNvGraphicFramePr/>'
            "</xdr:nvGraphicFramePr>"
            '<xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/></xdr:xfrm>'
            f'<a:graphic><a:graphicData uri="{C_NS}">'
            f'<c:chart xmlns:c="{C_NS}" xmlns:r="{REL_NS}" r:id="{a.rel_id}"/>'
            "</a:graphicData></a:graphic></xdr:graphicFrame><xdr:clientData/>"
            "</xdr:twoCellAnchor>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<xdr:wsDr xmlns:xdr="{XDR_NS}" xmlns:a="{A_NS}">{"".join(parts)}</xdr:wsDr>'
    ).encode()
