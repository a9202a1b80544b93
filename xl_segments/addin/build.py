"""Build XLSegments.xlam, the xl-segments Excel add-in, from the text sources beside this file.

The add-in is a macro-enabled OOXML package written part by part (no template, no Excel):

* ``customUI/customUI.xml``: the ribbon tab, from ``customUI.xml`` here. It is the Office
  2007 "Ribbon Extensibility" part: root namespace ``.../office/2006/01/customui`` reached
  by a package relationship of type ``.../office/2006/relationships/ui/extensibility``, the
  pairing [MS-CUSTOMUI] and [MS-OI29500] 3.4.1.3 define. Excel 2007 and later (Windows) and
  Excel 2016 and later (Mac) read it; the 2010 ``customUI14`` variant would add nothing
  buttons need (it exists for the Backstage view and context menus).
* ``xl/vbaProject.bin``: the VBA project, written by :mod:`.ovba`, with these modules:
  ``XLSegmentsRibbon`` (the ribbon callback, from ``XLSegmentsRibbon.bas`` here),
  ``xlwings`` (xlwings' own module for custom add-ins, read from the installed xlwings so
  its version always matches the user's Python package), ``xlwings_udfs`` (the VBA wrappers
  of our UDFs, written by xlwings' own ``generate_vba_wrapper``), ``Dictionary`` (the class
  that xlwings' module needs on the Mac, also from the installed xlwings) and the document
  modules ``ThisWorkbook`` and ``Sheet1``.
* ``xl/worksheets/sheet1.xml``: the ``xlwings.conf`` sheet with the add-in's settings.
  xlwings' custom add-in module looks for a sheet named ``PROJECT_NAME & ".conf"`` in the
  active workbook and then in the add-in itself (a leading underscore, as in the quickstart
  add-in's ``_myaddin.conf``, switches a sheet off). We set its ``PROJECT_NAME`` constant to
  ``xlwings``, so the add-in reads the same ``xlwings.conf`` sheet and files as the xlwings
  add-in, including the one ``xl-segments`` writes for the formulas.

An add-in is marked as such by its workbook part's content type
(``application/vnd.ms-excel.addin.macroEnabled.main+xml``); SpreadsheetML has no "is add-in"
attribute. Before anything is written, :func:`check_addin` verifies the sources against
each other: unique ribbon ids, every callback named in the XML is a public Sub of the VBA,
every button is dispatched to a macro that exists in :mod:`xl_segments.macros`, every UDF of
``udfs.py`` has its wrapper. The output is deterministic: the same inputs give the same bytes.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import os
import re
import sys
import tempfile
import types
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from defusedxml import ElementTree

from xl_segments.addin.ovba import DEFAULT_REFERENCES, VbaModule, build_vba_project
from xl_segments.errors import SegmentsError

__all__ = [
    "ADDIN_NAME",
    "CONFIG_SHEET",
    "AddinError",
    "AddinSources",
    "build_addin",
    "check_addin",
    "collect_sources",
    "package_parts",
]

HERE = Path(__file__).parent
ADDIN_NAME = "XLSegments.xlam"
VBA_PROJECT_NAME = "XLSegments"
RIBBON_MODULE = "XLSegmentsRibbon"
DISPATCH_CALLBACK = "XLSegmentsAction"  # the Sub every button's onAction names
UDF_MODULE = "udfs"
UDF_WRAPPER_MODULE = "xlwings_udfs"  # the module name xlwings' "Import Functions" uses
MACROS_MODULE = "xl_segments.macros"

# xlwings' custom add-in module reads its settings from "<PROJECT_NAME>.conf" (sheet, file).
XLWINGS_PROJECT_NAME = "xlwings"
CONFIG_SHEET = f"{XLWINGS_PROJECT_NAME}.conf"
_PROJECT_NAME_LINE = re.compile(r'^Public Const PROJECT_NAME As String = "[^"]*"', re.MULTILINE)

CUSTOM_UI_NS = "http://schemas.microsoft.com/office/2006/01/customui"
CUSTOM_UI_PART = "customUI/customUI.xml"

# Package-level names ([ECMA-376] Part 2, [MS-OI29500], [MS-OFFMACRO2]).
_CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
REL_OFFICE_DOCUMENT = f"{_DOC_REL}/officeDocument"
REL_CUSTOM_UI = "http://schemas.microsoft.com/office/2006/relationships/ui/extensibility"
REL_VBA_PROJECT = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
CT_ADDIN_WORKBOOK = "application/vnd.ms-excel.addin.macroEnabled.main+xml"
CT_VBA_PROJECT = "application/vnd.ms-office.vbaProject"

# [MS-CUSTOMUI]: attributes whose value names a macro (ST_Delegate). Every "get..." attribute
# is one too; so are these.
_CALLBACK_ATTRIBUTES = frozenset({"onAction", "onChange", "onLoad", "loadImage"})
_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")  # an xsd:ID (NCName), ASCII
_MAX_TEXT = 1024  # [MS-CUSTOMUI] ST_String: the limit of labels, screentips and supertips

_PROCEDURE = re.compile(
    r"^[ \t]*(?:(Public|Private|Friend)[ \t]+)?(?:Static[ \t]+)?(Sub|Function)[ \t]+"
    r"([A-Za-z][A-Za-z0-9_]*)[ \t]*\(([^)]*)\)",
    re.MULTILINE | re.IGNORECASE,
)
_CASE = re.compile(r'^[ \t]*Case[ \t]+"([^"]*)"[ \t]*$', re.IGNORECASE)
_RUN_PYTHON = re.compile(r"^[ \t]*RunPython\b(.*)$", re.IGNORECASE)
_MACRO_CALL = re.compile(
    rf'[ \t]*"import {re.escape(MACROS_MODULE)} as m; m\.([A-Za-z_][A-Za-z0-9_]*)\(\)"[ \t]*\Z'
)

# Fixed zip entry time: the earliest DOS date, so builds do not depend on the clock.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_DOS_ARCHIVE = 0x20


class AddinError(SegmentsError):
    """The add-in cannot be built: its sources disagree, or a source is missing or invalid."""


@dataclass(frozen=True)
class AddinSources:
    """Everything the add-in is made of, before it is checked and packaged.

    ``udfs`` maps each UDF of udfs.py (a function decorated with ``xw.func``) to its
    parameter names, read from the source file; ``settings`` are the rows of the add-in's
    xlwings.conf sheet, in order.
    """

    custom_ui: str
    modules: tuple[VbaModule, ...]
    udfs: Mapping[str, tuple[str, ...]]
    settings: Mapping[str, str]
    macros: types.ModuleType


# --------------------------------------------------------------------------- sources


def _read_text(path: Path, encoding: str = "utf-8") -> str:
    try:
        return path.read_bytes().decode(encoding)
    except OSError as exc:
        raise AddinError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError as exc:
        raise AddinError(f"{path} is not {encoding} text ({exc.reason}).") from None


def _xlwings_folder() -> Path:
    import xlwings

    return Path(xlwings.__file__).parent


def xlwings_module(folder: Path | None = None) -> VbaModule:
    """xlwings' VBA module for custom add-ins, with PROJECT_NAME set to "xlwings".

    PROJECT_NAME names the settings xlwings' VBA reads ("<name>.conf" sheet and files);
    the xlwings documentation renames an add-in by changing exactly this line.
    """
    folder = folder or _xlwings_folder()
    path = folder / "xlwings_custom_addin.bas"
    if not path.is_file():
        raise AddinError(
            f"This xlwings ({folder}) has no xlwings_custom_addin.bas; the add-in needs "
            "xlwings 0.22 or later."
        )
    text = _read_text(path, "cp1252")
    text, count = _PROJECT_NAME_LINE.subn(
        f'Public Const PROJECT_NAME As String = "{XLWINGS_PROJECT_NAME}"', text
    )
    if count != 1:
        raise AddinError(
            f"{path} has {count} PROJECT_NAME constants instead of one; this xlwings "
            "version is not supported by the add-in build."
        )
    return VbaModule.from_bas(text)


def dictionary_class(folder: Path | None = None) -> VbaModule:
    """xlwings' Dictionary class (VBA-Dictionary, MIT), which its module uses on the Mac.

    An exported .cls starts with a VERSION/BEGIN...END header and the class attributes;
    the VBA project stores neither (the writer adds the class attributes itself).
    """
    path = (folder or _xlwings_folder()) / "addin" / "Dictionary.cls"
    if not path.is_file():
        raise AddinError(f"This xlwings has no {path.name} (looked in {path.parent}).")
    lines = _read_text(path, "cp1252").splitlines()
    if lines[:2] != ["VERSION 1.0 CLASS", "BEGIN"] or "END" not in lines:
        raise AddinError(f"{path} is not an exported VBA class module.")
    body = lines[lines.index("END") + 1 :]
    while body and body[0].startswith("Attribute VB_"):
        body.pop(0)
    return VbaModule("Dictionary", "\n".join(body) + "\n", kind="class")


def udf_module() -> types.ModuleType:
    """udfs.py imported with xlwings' real UDF decorators, so every UDF has its metadata."""
    from xl_segments.xlwings_compat import use_windows_engine

    use_windows_engine()
    module = importlib.import_module(UDF_MODULE)
    if not sys.platform.startswith("win") and not _all_registered(module):
        # Imported before the engine was set up: its @xw.func were xlwings' Linux no-ops.
        module = importlib.reload(module)
    return module


def _all_registered(module: types.ModuleType) -> bool:
    names = udf_signatures(Path(module.__file__ or ""))
    return all(hasattr(getattr(module, name, None), "__xlfunc__") for name in names)


def udf_signatures(path: Path) -> dict[str, tuple[str, ...]]:
    """The UDFs defined in a Python file: functions decorated with ``xw.func`` / ``func``.

    Read from the source text, not from the imported module, so that a decorator which
    silently did nothing (xlwings' Linux no-op) cannot hide a UDF from the check.
    """
    tree = ast.parse(_read_text(path), filename=str(path))
    found: dict[str, tuple[str, ...]] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and any(_is_xw_func(d) for d in node.decorator_list):
            args = node.args
            names = [a.arg for a in (*args.posonlyargs, *args.args)]
            if args.vararg is not None:
                names.append(args.vararg.arg)
            found[node.name] = tuple(names)
    return found


def _is_xw_func(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(target, ast.Attribute):
        return target.attr == "func"
    return isinstance(target, ast.Name) and target.id in ("func", "xlfunc")


def default_settings() -> dict[str, str]:
    """The add-in's xlwings settings: this Python, the folders of our code, UDF Modules.

    The same entries ``xl-segments`` writes into xlwings.conf files, computed on the
    machine that builds the add-in, which is why users build it themselves.
    """
    from xl_segments.excel_setup import config_entries

    return config_entries()


def collect_sources(settings: Mapping[str, str] | None = None) -> AddinSources:
    """Read every source of the add-in: the files beside this module, xlwings, udfs.py."""
    udfs = udf_module()
    wrappers = _udf_wrapper_module(udfs)
    modules = (
        VbaModule("ThisWorkbook", "", kind="document"),
        VbaModule("Sheet1", "", kind="document"),
        VbaModule.from_bas(_read_text(HERE / f"{RIBBON_MODULE}.bas", "cp1252")),
        xlwings_module(),
        wrappers,
        dictionary_class(),
    )
    return AddinSources(
        custom_ui=_read_text(HERE / "customUI.xml"),
        modules=modules,
        udfs=udf_signatures(Path(udfs.__file__ or UDF_MODULE)),
        settings=dict(settings) if settings is not None else default_settings(),
        macros=importlib.import_module(MACROS_MODULE),
    )


def _udf_wrapper_module(udfs: types.ModuleType) -> VbaModule:
    from xl_segments.xlwings_compat import udf_vba_module_text

    return VbaModule.from_bas(udf_vba_module_text(udfs, workbook_name=ADDIN_NAME))


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class RibbonControl:
    """One element of the customUI XML that has an id: its tag, id and attributes."""

    tag: str
    id: str
    attributes: Mapping[str, str]


def ribbon_controls(custom_ui: str) -> list[RibbonControl]:
    """The elements with an ``id`` in a customUI document, in document order.

    Raises AddinError when the XML is not well-formed or is not a customUI document of the
    Office 2007 namespace.
    """
    try:
        root = ElementTree.fromstring(custom_ui.encode("utf-8"))
    except ElementTree.ParseError as exc:
        raise AddinError(f"customUI.xml is not well-formed XML: {exc}.") from None
    if root.tag != f"{{{CUSTOM_UI_NS}}}customUI":
        raise AddinError(
            f"customUI.xml must have a customUI root element in the namespace {CUSTOM_UI_NS} "
            f"(found {root.tag})."
        )
    controls = []
    for element in root.iter():
        namespace, _, tag = element.tag.rpartition("}")
        if namespace.lstrip("{") != CUSTOM_UI_NS:
            raise AddinError(f"customUI.xml: element {element.tag} is not in {CUSTOM_UI_NS}.")
        if "id" in element.attrib:
            controls.append(RibbonControl(tag, element.attrib["id"], dict(element.attrib)))
    return controls


def callbacks(custom_ui: str) -> dict[str, list[str]]:
    """Each callback named in the customUI XML -> the ids of the controls naming it."""
    try:
        root = ElementTree.fromstring(custom_ui.encode("utf-8"))
    except ElementTree.ParseError:
        return {}
    named: dict[str, list[str]] = {}
    for element in root.iter():
        for attribute, value in element.attrib.items():
            if attribute in _CALLBACK_ATTRIBUTES or attribute.startswith("get"):
                named.setdefault(value, []).append(element.attrib.get("id", element.tag))
    return named


def vba_procedures(source: str) -> dict[str, tuple[str, str, int]]:
    """A module's procedures: lower-cased name -> (visibility, Sub/Function, parameter count)."""
    found = {}
    for match in _PROCEDURE.finditer(source):
        visibility = (match.group(1) or "Public").capitalize()
        parameters = [p for p in match.group(4).split(",") if p.strip()]
        found[match.group(3).lower()] = (visibility, match.group(2).capitalize(), len(parameters))
    return found


def dispatch_table(source: str) -> tuple[dict[str, str], list[str]]:
    """The button id -> macro name table of the ribbon callback, and the lines it rejects.

    The callback is a ``Select Case control.Id`` whose every ``Case "<id>"`` is followed by
    ``RunPython "import xl_segments.macros as m; m.<macro>()"``.
    """
    table: dict[str, str] = {}
    rejected: list[str] = []
    pending: str | None = None
    for line in source.splitlines():
        case = _CASE.match(line)
        if case:
            pending = case.group(1)
            continue
        run = _RUN_PYTHON.match(line)
        if run:
            call = _MACRO_CALL.fullmatch(run.group(1))
            if call is None or pending is None:
                rejected.append(line.strip())
            else:
                table[pending] = call.group(1)
            pending = None
    return table, rejected


def _check_ribbon(controls: Sequence[RibbonControl]) -> list[str]:
    problems = []
    seen: dict[str, str] = {}
    for control in controls:
        if not _ID.match(control.id):
            problems.append(f"ribbon id {control.id!r} is not a valid XML id")
        if control.id in seen:
            problems.append(
                f"ribbon id {control.id!r} is used twice ({seen[control.id]}, {control.tag})"
            )
        seen.setdefault(control.id, control.tag)
        for attribute in ("label", "screentip", "supertip"):
            if len(control.attributes.get(attribute, "")) > _MAX_TEXT:
                problems.append(f"ribbon {control.id}: {attribute} is over {_MAX_TEXT} characters")
        keytip = control.attributes.get("keytip")
        if keytip is not None and not re.fullmatch(r"\S{1,3}", keytip):
            problems.append(f"ribbon {control.id}: keytip must be 1 to 3 characters")
        if control.tag == "button":
            for attribute in ("label", "imageMso", "screentip", "supertip", "onAction"):
                if not control.attributes.get(attribute):
                    problems.append(f"ribbon button {control.id} has no {attribute}")
    return problems


def _check_callbacks(custom_ui: str, modules: Sequence[VbaModule]) -> list[str]:
    problems = []
    standard = {m.name.lower(): m for m in modules if m.kind == "standard"}
    procedures = {name: vba_procedures(m.source) for name, m in standard.items()}
    for callback, ids in callbacks(custom_ui).items():
        module_name, _, procedure = callback.rpartition(".")
        if module_name:
            if module_name.lower() not in standard:
                problems.append(
                    f"callback {callback} (ribbon {', '.join(ids)}): there is no standard "
                    f"module {module_name} in the VBA project"
                )
                continue
            where = {module_name.lower(): procedures[module_name.lower()]}
        else:
            where = procedures
        matches = [
            procs[procedure.lower()] for procs in where.values() if procedure.lower() in procs
        ]
        if not matches:
            problems.append(
                f"callback {callback} (ribbon {', '.join(ids)}) is not a Sub in the VBA"
            )
        elif matches[0][:2] != ("Public", "Sub") or matches[0][2] != 1:
            problems.append(
                f"callback {callback} must be a public Sub taking the control (one parameter)"
            )
    return problems


def _check_dispatch(
    controls: Sequence[RibbonControl], modules: Sequence[VbaModule], macros: types.ModuleType
) -> list[str]:
    ribbon = next((m for m in modules if m.name == RIBBON_MODULE), None)
    if ribbon is None:
        return [f"the VBA project has no {RIBBON_MODULE} module"]
    problems = []
    table, rejected = dispatch_table(ribbon.source)
    problems += [
        f'{RIBBON_MODULE}: {line} is not RunPython "import {MACROS_MODULE} as m; m.<macro>()" '
        'under a Case "<button id>"'
        for line in rejected
    ]
    dispatched = [
        c
        for c in controls
        if c.attributes.get("onAction", "").rpartition(".")[2].lower() == DISPATCH_CALLBACK.lower()
    ]
    for control in dispatched:
        if control.id not in table:
            problems.append(f"ribbon button {control.id} has no Case in {RIBBON_MODULE}")
    ids = {c.id for c in dispatched}
    for button, macro in table.items():
        if button not in ids:
            problems.append(f"{RIBBON_MODULE} dispatches {button!r}, which no ribbon button has")
        function = getattr(macros, macro, None)
        if not callable(function):
            problems.append(
                f"ribbon button {button} runs {macro}(), which is not in {MACROS_MODULE}"
            )
            continue
        try:
            inspect.signature(function).bind()
        except TypeError:
            problems.append(f"{MACROS_MODULE}.{macro} cannot be called without arguments")
    return problems


def _parameter_names(parameters: str) -> list[str]:
    """The names in a VBA parameter list: ``Optional ByVal x As Long = 1`` gives ``x``."""
    names = []
    for parameter in parameters.split(","):
        words = [
            w
            for w in parameter.split("=")[0].split(" As ")[0].split()
            if w.lower() not in ("optional", "byval", "byref", "paramarray")
        ]
        if words:
            names.append(words[0].removesuffix("()"))
    return names


def _check_udfs(udfs: Mapping[str, tuple[str, ...]], modules: Sequence[VbaModule]) -> list[str]:
    module = next((m for m in modules if m.name == UDF_WRAPPER_MODULE), None)
    if module is None:
        return [f"the VBA project has no {UDF_WRAPPER_MODULE} module (the UDF wrappers)"]
    wrappers = {
        match.group(3): _parameter_names(match.group(4))
        for match in _PROCEDURE.finditer(module.source)
        if match.group(2).lower() == "function"
    }
    problems = []
    if not udfs:
        problems.append(f"no UDFs found in {UDF_MODULE}.py")
    for name, parameters in udfs.items():
        if name not in wrappers:
            problems.append(f"UDF {name} of {UDF_MODULE}.py has no VBA wrapper")
        elif tuple(wrappers[name]) != parameters:
            problems.append(
                f"UDF {name}: the VBA wrapper takes ({', '.join(wrappers[name])}), "
                f"{UDF_MODULE}.py takes ({', '.join(parameters)})"
            )
    return problems


def _check_settings(settings: Mapping[str, str]) -> list[str]:
    problems = []
    for key, value in settings.items():
        if not key.strip() or not str(value).strip():
            # xlwings reads column A down to the first blank cell; an empty value would
            # override the user's own xlwings.conf with nothing.
            problems.append(f"{CONFIG_SHEET} setting {key!r} must have a key and a value")
    if not any(k.casefold() == "udf modules" for k in settings):
        problems.append(f"{CONFIG_SHEET} must set UDF Modules")
    return problems


def check_addin(sources: AddinSources) -> list[str]:
    """Every way the sources disagree with each other, as sentences; empty when consistent."""
    try:
        controls = ribbon_controls(sources.custom_ui)
    except AddinError as exc:
        return [str(exc)]
    return [
        *_check_ribbon(controls),
        *_check_callbacks(sources.custom_ui, sources.modules),
        *_check_dispatch(controls, sources.modules, sources.macros),
        *_check_udfs(sources.udfs, sources.modules),
        *_check_settings(sources.settings),
    ]


# --------------------------------------------------------------------------- package


def _xml(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + body).encode("utf-8")


def _text(value: str) -> str:
    preserve = ' xml:space="preserve"' if value != value.strip() else ""
    return f"<t{preserve}>{escape(value)}</t>"


def _content_types() -> bytes:
    overrides = {
        "/xl/workbook.xml": CT_ADDIN_WORKBOOK,
        "/xl/worksheets/sheet1.xml": (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
        ),
        "/xl/styles.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml",
        "/xl/sharedStrings.xml": (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
        ),
        "/docProps/core.xml": "application/vnd.openxmlformats-package.core-properties+xml",
        "/docProps/app.xml": (
            "application/vnd.openxmlformats-officedocument.extended-properties+xml"
        ),
    }
    return _xml(
        f'<Types xmlns="{_CT_NS}">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        # customUI/customUI.xml is plain application/xml ([MS-CUSTOMUI] 2.1).
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Default Extension="bin" ContentType="{CT_VBA_PROJECT}"/>'
        + "".join(
            f'<Override PartName="{part}" ContentType="{kind}"/>'
            for part, kind in overrides.items()
        )
        + "</Types>"
    )


def _relationships(rels: Sequence[tuple[str, str]]) -> bytes:
    return _xml(
        f'<Relationships xmlns="{_REL_NS}">'
        + "".join(
            f'<Relationship Id="rId{n}" Type="{kind}" Target="{target}"/>'
            for n, (kind, target) in enumerate(rels, start=1)
        )
        + "</Relationships>"
    )


def _core_properties() -> bytes:
    # Excel's add-in dialog shows the title and, for the selected add-in, the description.
    return _xml(
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
        'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<dc:title>xl-segments</dc:title>"
        "<dc:description>The xl-segments ribbon tab and formulas: customer lists "
        "(top spenders, channels, churn risk) from an orders table.</dc:description>"
        "<dc:creator>xl-segments</dc:creator>"
        "</cp:coreProperties>"
    )


def _app_properties() -> bytes:
    return _xml(
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
        'extended-properties"><Application>xl-segments</Application></Properties>'
    )


def _workbook() -> bytes:
    return _xml(
        f'<workbook xmlns="{_MAIN_NS}" xmlns:r="{_DOC_REL}">'
        # codeName binds the ThisWorkbook document module of the VBA project to the book.
        '<workbookPr codeName="ThisWorkbook"/>'
        "<bookViews><workbookView/></bookViews>"
        f'<sheets><sheet name={quoteattr(CONFIG_SHEET)} sheetId="1" r:id="rId1"/></sheets>'
        "</workbook>"
    )


def _styles() -> bytes:
    return _xml(
        f'<styleSheet xmlns="{_MAIN_NS}">'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
        "</fonts>"
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
        "</borders>"
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        "</cellStyleXfs>"
        '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        "</cellXfs>"
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    )


def _config_sheet(settings: Mapping[str, str]) -> tuple[bytes, bytes]:
    """The xlwings.conf sheet (keys in column A, values in B, from row 1) and its strings."""
    strings: list[str] = []
    rows = []
    for number, (key, value) in enumerate(settings.items(), start=1):
        cells = []
        for column, text in (("A", key), ("B", str(value))):
            cells.append(f'<c r="{column}{number}" t="s"><v>{len(strings)}</v></c>')
            strings.append(text)
        rows.append(f'<row r="{number}">{"".join(cells)}</row>')
    last = max(len(settings), 1)
    sheet = _xml(
        f'<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_DOC_REL}">'
        # codeName binds the Sheet1 document module.
        '<sheetPr codeName="Sheet1"/>'
        f'<dimension ref="A1:B{last}"/>'
        '<sheetViews><sheetView workbookViewId="0"/></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
        '<cols><col min="1" max="1" width="18" customWidth="1"/>'
        '<col min="2" max="2" width="80" customWidth="1"/></cols>'
        f"<sheetData>{''.join(rows)}</sheetData>"
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
        "</worksheet>"
    )
    shared = _xml(
        f'<sst xmlns="{_MAIN_NS}" count="{len(strings)}" uniqueCount="{len(strings)}">'
        + "".join(f"<si>{_text(s)}</si>" for s in strings)
        + "</sst>"
    )
    return sheet, shared


def package_parts(sources: AddinSources) -> dict[str, bytes]:
    """The parts of the .xlam package, by zip entry name, in the order they are written."""
    sheet, shared_strings = _config_sheet(sources.settings)
    vba = build_vba_project(
        sources.modules,
        project_name=VBA_PROJECT_NAME,
        # Only stdole: the ribbon callback takes its control As Object, so nothing needs the
        # Office object library, whose reference can show as MISSING on another machine.
        references=[r for r in DEFAULT_REFERENCES if r.name != "Office"],
    )
    return {
        "[Content_Types].xml": _content_types(),
        "_rels/.rels": _relationships(
            [
                (REL_OFFICE_DOCUMENT, "xl/workbook.xml"),
                (
                    "http://schemas.openxmlformats.org/package/2006/relationships/metadata/"
                    "core-properties",
                    "docProps/core.xml",
                ),
                (f"{_DOC_REL}/extended-properties", "docProps/app.xml"),
                (REL_CUSTOM_UI, CUSTOM_UI_PART),
            ]
        ),
        "docProps/core.xml": _core_properties(),
        "docProps/app.xml": _app_properties(),
        CUSTOM_UI_PART: sources.custom_ui.encode("utf-8"),
        "xl/workbook.xml": _workbook(),
        "xl/_rels/workbook.xml.rels": _relationships(
            [
                (f"{_DOC_REL}/worksheet", "worksheets/sheet1.xml"),
                (f"{_DOC_REL}/styles", "styles.xml"),
                (f"{_DOC_REL}/sharedStrings", "sharedStrings.xml"),
                (REL_VBA_PROJECT, "vbaProject.bin"),
            ]
        ),
        "xl/styles.xml": _styles(),
        "xl/sharedStrings.xml": shared_strings,
        "xl/worksheets/sheet1.xml": sheet,
        "xl/vbaProject.bin": vba,
    }


def _zip(parts: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for name, data in parts.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            # Made by MS-DOS with the archive attribute, as Windows tools write entries:
            # no Unix permission bits. (zipfile replaces an attribute of 0 by rw-------.)
            info.create_system = 0
            info.external_attr = _DOS_ARCHIVE
            package.writestr(info, data)
    return buffer.getvalue()


def build_addin(out: Path | str = ADDIN_NAME, sources: AddinSources | None = None) -> Path:
    """Write the add-in to ``out`` (an .xlam path; a folder gets XLSegments.xlam) and return it.

    Checks the sources first (see :func:`check_addin`) and writes nothing when they
    disagree; replaces an existing file only once the new one is complete.
    """
    target = Path(out)
    if target.is_dir():
        target = target / ADDIN_NAME
    if target.suffix.lower() != ".xlam":
        raise AddinError(
            f"The add-in must be saved as an .xlam file (Excel refuses an add-in named "
            f"{target.name})."
        )
    sources = sources or collect_sources()
    problems = check_addin(sources)
    if problems:
        raise AddinError(
            "The add-in was not built; its sources disagree:\n- " + "\n- ".join(problems)
        )
    try:
        data = _zip(package_parts(sources))
    except ValueError as exc:  # VBA text the code page cannot hold, an invalid module name
        raise AddinError(f"The add-in was not built: {exc}.") from None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".xlam-", dir=target.parent)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise AddinError(
            f"Cannot write {target}: {exc.strerror or exc} (is it open in Excel?)."
        ) from None
    return target
