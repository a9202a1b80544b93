"""XLSegments.xlam: built from our text sources, read back by olevba, LibreOffice and calamine."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import types
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from defusedxml import ElementTree
from python_calamine import CalamineWorkbook

import xl_segments.macros
from xl_segments.addin import build
from xl_segments.addin.build import (
    CONFIG_SHEET,
    AddinError,
    AddinSources,
    build_addin,
    check_addin,
    collect_sources,
    dispatch_table,
    ribbon_controls,
    udf_signatures,
)
from xl_segments.addin.cli import addin
from xl_segments.addin.ovba import VbaModule
from xl_segments.xlwings_compat import udf_vba_module_text

with warnings.catch_warnings():
    # oletools calls pyparsing's deprecated camelCase API when it is imported.
    warnings.simplefilter("ignore", DeprecationWarning)
    from oletools.olevba import VBA_Parser

ADDIN_DIR = Path(build.__file__).parent
DOCS = Path(__file__).parents[1] / "docs" / "addin.md"
SCRIPT_NS = "http://openoffice.org/2000/script"
CT_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
CUSTOM_UI_NS = "{http://schemas.microsoft.com/office/2006/01/customui}"

# Settings as a Windows user's build would write them; "&" and spaces must survive XML.
SETTINGS = {
    "Interpreter_Win": r"C:\Users\Ann & Bob\xl-segments\.venv\Scripts\pythonw.exe",
    "PYTHONPATH": r"C:\Users\Ann & Bob\xl-segments",
    "UDF Modules": "udfs",
}

# What the issue asks for: each button, and the macro it runs.
BUTTONS = {
    "Refresh all lists": "refresh_all",
    "Top spenders": "build_top_spenders",
    "Channel lists": "build_channel_lists",
    "Churn risk": "build_churn_risk",
    "Export contact lists (CSV)": "export_contact_lists",
    "Open settings": "open_settings",
    "New workbook from template": "new_workbook_from_template",
}


@pytest.fixture(scope="module")
def sources() -> AddinSources:
    return collect_sources(settings=SETTINGS)


@pytest.fixture(scope="module")
def xlam(sources: AddinSources, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_addin(tmp_path_factory.mktemp("addin") / "XLSegments.xlam", sources)


@pytest.fixture(scope="module")
def package(xlam: Path) -> zipfile.ZipFile:
    return zipfile.ZipFile(xlam)


def _stored(source: str) -> str:
    """A module source as the VBA project stores it: every line CRLF-terminated."""
    lines = re.split(r"\r\n|\r|\n", source)
    if lines[-1] == "":
        lines.pop()
    return "".join(line + "\r\n" for line in lines)


def _module(sources: AddinSources, name: str) -> VbaModule:
    return next(m for m in sources.modules if m.name == name)


def _replace_module(sources: AddinSources, name: str, edit: Callable[[str], str]) -> AddinSources:
    modules = tuple(
        dataclasses.replace(m, source=edit(m.source)) if m.name == name else m
        for m in sources.modules
    )
    return dataclasses.replace(sources, modules=modules)


def _xml(package: zipfile.ZipFile, name: str) -> ElementTree.Element:
    return ElementTree.fromstring(package.read(name))


# --- the VBA project, read back by olevba -------------------------------------------------


def test_olevba_lists_every_module_and_reads_each_source_exactly(
    sources: AddinSources, xlam: Path
) -> None:
    parser = VBA_Parser(str(xlam))
    assert parser.type == "OpenXML"
    found = {stream.split("/")[-1]: code for _, stream, _, code in parser.extract_macros()}
    assert set(found) == {
        "ThisWorkbook",
        "Sheet1",
        "XLSegmentsRibbon",
        "xlwings",
        "xlwings_udfs",
        "Dictionary",
    }
    for module in sources.modules:
        code = found[module.name]
        head, separator, body = code.partition(f'Attribute VB_Name = "{module.name}"\r\n')
        assert head == "" and separator, module.name
        # Document and class modules carry more VB_ attribute lines ahead of the code.
        body = re.sub(r"\A(?:Attribute VB_\w+ = [^\r]*\r\n)*", "", body)
        assert body == _stored(module.source), module.name


def test_ribbon_module_is_our_bas_file(sources: AddinSources) -> None:
    text = (ADDIN_DIR / "XLSegmentsRibbon.bas").read_bytes().decode("cp1252")
    assert _module(sources, "XLSegmentsRibbon") == VbaModule.from_bas(text)


def test_xlwings_module_is_the_installed_one_named_xlwings(sources: AddinSources) -> None:
    import xlwings

    installed = (
        (Path(xlwings.__file__).parent / "xlwings_custom_addin.bas").read_bytes().decode("cp1252")
    )
    ours = _module(sources, "xlwings").source
    expected = VbaModule.from_bas(installed).source.replace(
        'Public Const PROJECT_NAME As String = "myaddin"',
        'Public Const PROJECT_NAME As String = "xlwings"',
    )
    assert ours == expected
    assert f'Public Const XLWINGS_VERSION As String = "{xlwings.__version__}"' in ours
    # The settings sheet name the module reads is the one the add-in carries.
    assert 'PROJECT_NAME & ".conf"' in ours and CONFIG_SHEET == "xlwings.conf"


def test_udf_wrappers_are_xlwings_own_for_an_addin(sources: AddinSources) -> None:
    udfs = build.udf_module()
    wrappers = _module(sources, "xlwings_udfs")
    text = udf_vba_module_text(udfs, workbook_name="XLSegments.xlam")
    assert wrappers == VbaModule.from_bas(text)
    for name in sources.udfs:
        # An add-in's wrappers pass the active workbook, not the add-in, to Python.
        assert f'XLPy.CallUDF("udfs", "{name}", ' in wrappers.source
        assert "ActiveWorkbook, Application.Caller)" in wrappers.source


def test_every_udf_of_udfs_py_is_found(sources: AddinSources) -> None:
    assert set(sources.udfs) == {
        "TOP_SPENDERS",
        "PARETO",
        "CUSTOMER_LTV",
        "CHANNEL_PERFORMANCE",
        "REPEAT_CUSTOMERS",
        "AVG_DAYS_BETWEEN_PURCHASES",
        "CHURN_RISK",
        "MONTHLY_CHURN",
    }
    assert sources.udfs["CHURN_RISK"] == ("orders", "as_of", "multiplier")


def test_udf_signatures_reads_only_decorated_functions(tmp_path: Path) -> None:
    path = tmp_path / "some_udfs.py"
    path.write_text(
        "import xlwings as xw\nfrom xlwings import func\n\n"
        "@xw.func\ndef A(x, y=1):\n    return x\n\n"
        "@xw.func(category='c')\n@xw.arg('x', doc='d')\ndef B(x, *rest):\n    return x\n\n"
        "@func\ndef C():\n    return 1\n\n"
        "def helper(x):\n    return x\n"
    )
    assert udf_signatures(path) == {"A": ("x", "y"), "B": ("x", "rest"), "C": ()}


# --- the ribbon -----------------------------------------------------------------------------


def test_each_button_has_icon_tips_and_runs_its_macro(sources: AddinSources) -> None:
    buttons = [c for c in ribbon_controls(sources.custom_ui) if c.tag == "button"]
    assert [b.attributes["label"] for b in buttons] == list(BUTTONS)
    for button in buttons:
        assert button.attributes["imageMso"]
        assert button.attributes["screentip"] == button.attributes["label"]
        assert len(button.attributes["supertip"]) > 40
        assert button.attributes["onAction"] == "XLSegmentsRibbon.XLSegmentsAction"
    table, rejected = dispatch_table(_module(sources, "XLSegmentsRibbon").source)
    assert rejected == []
    assert {b.attributes["label"]: table[b.id] for b in buttons} == BUTTONS
    for macro in BUTTONS.values():
        assert callable(getattr(xl_segments.macros, macro))


def test_the_ribbon_sits_on_its_own_tab(sources: AddinSources) -> None:
    tabs = [c for c in ribbon_controls(sources.custom_ui) if c.tag == "tab"]
    assert [(t.id, t.attributes["label"]) for t in tabs] == [("xlsTab", "xl-segments")]


def test_the_sources_agree(sources: AddinSources) -> None:
    assert check_addin(sources) == []


# --- the validator catches what goes missing ---------------------------------------------

_DROP_CHURN_BUTTON = re.compile(r'\s*<button id="xlsChurnRisk".*?/>', re.DOTALL)


def _drop_button(s: AddinSources) -> AddinSources:
    return dataclasses.replace(s, custom_ui=_DROP_CHURN_BUTTON.sub("", s.custom_ui))


def _extra_button(s: AddinSources) -> AddinSources:
    button = (
        '<button id="xlsPareto" label="Pareto" imageMso="FileNew" screentip="Pareto" '
        'supertip="Pareto" onAction="XLSegmentsRibbon.XLSegmentsAction"/>'
    )
    return dataclasses.replace(s, custom_ui=s.custom_ui.replace("</group>", button + "</group>", 1))


def _duplicate_id(s: AddinSources) -> AddinSources:
    return dataclasses.replace(
        s, custom_ui=s.custom_ui.replace('id="xlsTopSpenders"', 'id="xlsRefreshAll"')
    )


def _missing_callback(s: AddinSources) -> AddinSources:
    return dataclasses.replace(
        s,
        custom_ui=s.custom_ui.replace(
            'onAction="XLSegmentsRibbon.XLSegmentsAction"', 'onAction="XLSegmentsRibbon.OnClick"', 1
        ),
    )


def _callback_sub_renamed(s: AddinSources) -> AddinSources:
    return _replace_module(
        s, "XLSegmentsRibbon", lambda text: text.replace("Sub XLSegmentsAction(", "Sub Act(")
    )


def _case_removed(s: AddinSources) -> AddinSources:
    return _replace_module(
        s,
        "XLSegmentsRibbon",
        lambda text: re.sub(r'\s*Case "xlsOpenSettings"\s*\n[^\n]*\n', "\n", text),
    )


def _macro_renamed(s: AddinSources) -> AddinSources:
    return _replace_module(
        s, "XLSegmentsRibbon", lambda text: text.replace("m.build_churn_risk()", "m.churn()")
    )


def _other_runpython(s: AddinSources) -> AddinSources:
    return _replace_module(
        s,
        "XLSegmentsRibbon",
        lambda text: text.replace(
            '"import xl_segments.macros as m; m.refresh_all()"', '"import os; os.getcwd()"'
        ),
    )


def _wrapper_removed(s: AddinSources) -> AddinSources:
    return _replace_module(
        s,
        "xlwings_udfs",
        lambda text: re.sub(r"Function PARETO\(.*?End Function\n", "", text, flags=re.DOTALL),
    )


def _new_udf(s: AddinSources) -> AddinSources:
    return dataclasses.replace(s, udfs={**s.udfs, "REPEAT_RATE": ("orders",)})


def _udf_argument_added(s: AddinSources) -> AddinSources:
    return dataclasses.replace(s, udfs={**s.udfs, "PARETO": ("orders", "revenue_share", "as_of")})


def _wrong_namespace(s: AddinSources) -> AddinSources:
    return dataclasses.replace(
        s, custom_ui=s.custom_ui.replace("2006/01/customui", "2009/07/customui")
    )


def _not_xml(s: AddinSources) -> AddinSources:
    return dataclasses.replace(s, custom_ui=s.custom_ui.replace("</tabs>", "</tab>", 1))


def _no_icon(s: AddinSources) -> AddinSources:
    return dataclasses.replace(s, custom_ui=s.custom_ui.replace('imageMso="FileNew"', ""))


def _macro_needs_an_argument(s: AddinSources) -> AddinSources:
    fake = types.ModuleType("xl_segments.macros")
    fake.__dict__.update(vars(xl_segments.macros))
    fake.open_settings = lambda book: None  # type: ignore[attr-defined]
    return dataclasses.replace(s, macros=fake)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_drop_button, "dispatches 'xlsChurnRisk', which no ribbon button has"),
        (_extra_button, "ribbon button xlsPareto has no Case in XLSegmentsRibbon"),
        (_duplicate_id, "ribbon id 'xlsRefreshAll' is used twice"),
        (
            _missing_callback,
            "callback XLSegmentsRibbon.OnClick (ribbon xlsRefreshAll) is not a Sub",
        ),
        (
            _callback_sub_renamed,
            "callback XLSegmentsRibbon.XLSegmentsAction (ribbon xlsRefreshAll,",
        ),
        (_case_removed, "ribbon button xlsOpenSettings has no Case in XLSegmentsRibbon"),
        (_macro_renamed, "ribbon button xlsChurnRisk runs churn(), which is not in xl_segments"),
        (_other_runpython, 'RunPython "import os; os.getcwd()" is not RunPython'),
        (_wrapper_removed, "UDF PARETO of udfs.py has no VBA wrapper"),
        (_new_udf, "UDF REPEAT_RATE of udfs.py has no VBA wrapper"),
        (_udf_argument_added, "UDF PARETO: the VBA wrapper takes (orders, revenue_share)"),
        (_wrong_namespace, "must have a customUI root element in the namespace"),
        (_not_xml, "customUI.xml is not well-formed XML"),
        (_no_icon, "ribbon button xlsNewWorkbook has no imageMso"),
        (_macro_needs_an_argument, "xl_segments.macros.open_settings cannot be called without"),
    ],
    ids=[
        "button-gone",
        "button-without-case",
        "duplicate-id",
        "callback-not-in-vba",
        "callback-sub-renamed",
        "case-gone",
        "macro-not-in-python",
        "not-our-macro-call",
        "udf-wrapper-gone",
        "udf-without-wrapper",
        "udf-arguments-differ",
        "customui-namespace",
        "customui-not-xml",
        "button-without-icon",
        "macro-needs-arguments",
    ],
)
def test_build_refuses_sources_that_disagree(
    sources: AddinSources,
    change: Callable[[AddinSources], AddinSources],
    message: str,
    tmp_path: Path,
) -> None:
    changed = change(sources)
    assert any(message in problem for problem in check_addin(changed)), check_addin(changed)
    out = tmp_path / "XLSegments.xlam"
    with pytest.raises(AddinError, match=re.escape(message)):
        build_addin(out, changed)
    assert not out.exists()


def test_the_settings_need_udf_modules_and_values(sources: AddinSources) -> None:
    problems = check_addin(dataclasses.replace(sources, settings={"PYTHONPATH": ""}))
    assert problems == [
        "xlwings.conf setting 'PYTHONPATH' must have a key and a value",
        "xlwings.conf must set UDF Modules",
    ]


# --- the package -----------------------------------------------------------------------------


def test_package_is_a_macro_enabled_addin(package: zipfile.ZipFile) -> None:
    types_ = _xml(package, "[Content_Types].xml")
    defaults = {d.get("Extension"): d.get("ContentType") for d in types_.iter(f"{CT_NS}Default")}
    overrides = {o.get("PartName"): o.get("ContentType") for o in types_.iter(f"{CT_NS}Override")}
    assert overrides["/xl/workbook.xml"] == "application/vnd.ms-excel.addin.macroEnabled.main+xml"
    assert defaults["bin"] == "application/vnd.ms-office.vbaProject"
    assert defaults["xml"] == "application/xml"  # the customUI part's content type
    # Every part has a content type, and every content-typed override exists.
    for name in package.namelist():
        extension = name.rsplit(".", 1)[-1]
        assert f"/{name}" in overrides or extension in defaults, name
    assert {name.lstrip("/") for name in overrides} <= set(package.namelist())
    assert package.namelist()[0] == "[Content_Types].xml"


def _relationships(package: zipfile.ZipFile, name: str) -> dict[str, str]:
    return {
        r.get("Type"): r.get("Target") for r in _xml(package, name).iter(f"{REL_NS}Relationship")
    }


def test_package_relationships(package: zipfile.ZipFile) -> None:
    root = _relationships(package, "_rels/.rels")
    assert root[
        "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
    ] == ("xl/workbook.xml")
    # [MS-CUSTOMUI]: the Office 2007 customUI namespace goes with this relationship type.
    assert root["http://schemas.microsoft.com/office/2006/relationships/ui/extensibility"] == (
        "customUI/customUI.xml"
    )
    workbook = _relationships(package, "xl/_rels/workbook.xml.rels")
    assert workbook["http://schemas.microsoft.com/office/2006/relationships/vbaProject"] == (
        "vbaProject.bin"
    )
    targets = [*root.values(), *(f"xl/{t}" for t in workbook.values())]
    assert all(target in package.namelist() for target in targets)


def test_custom_ui_part_is_our_file(package: zipfile.ZipFile) -> None:
    assert package.read("customUI/customUI.xml") == (ADDIN_DIR / "customUI.xml").read_bytes()
    assert _xml(package, "customUI/customUI.xml").tag == f"{CUSTOM_UI_NS}customUI"


def test_code_names_bind_the_document_modules(package: zipfile.ZipFile) -> None:
    workbook = _xml(package, "xl/workbook.xml")
    assert workbook.find(f"{MAIN_NS}workbookPr").get("codeName") == "ThisWorkbook"
    sheets = [s.get("name") for s in workbook.iter(f"{MAIN_NS}sheet")]
    assert sheets == ["xlwings.conf"]
    sheet = _xml(package, "xl/worksheets/sheet1.xml")
    assert sheet.find(f"{MAIN_NS}sheetPr").get("codeName") == "Sheet1"


def test_zip_entries_carry_no_clock_and_no_unix_permissions(package: zipfile.ZipFile) -> None:
    for info in package.infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.create_system == 0 and info.external_attr == 0x20  # MS-DOS archive bit only
        assert info.compress_type == zipfile.ZIP_DEFLATED


def test_calamine_opens_the_addin_and_reads_its_settings(xlam: Path) -> None:
    workbook = CalamineWorkbook.from_path(str(xlam))
    assert workbook.sheet_names == ["xlwings.conf"]
    rows = workbook.get_sheet_by_name("xlwings.conf").to_python()
    assert rows == [[key, value] for key, value in SETTINGS.items()]


def test_building_twice_gives_the_same_bytes(
    sources: AddinSources, xlam: Path, tmp_path: Path
) -> None:
    again = build_addin(tmp_path / "again.xlam", collect_sources(settings=SETTINGS))
    assert again.read_bytes() == xlam.read_bytes()


def test_default_settings_point_excel_at_this_python_and_udfs(tmp_path: Path) -> None:
    import udfs

    settings = collect_sources().settings
    assert settings["UDF Modules"] == "udfs"
    assert str(Path(udfs.__file__).resolve().parent) in settings["PYTHONPATH"].split(";")
    assert any(key.upper().startswith("INTERPRETER") for key in settings)


def test_a_folder_gets_the_default_name_and_other_suffixes_are_refused(
    sources: AddinSources, tmp_path: Path
) -> None:
    assert build_addin(tmp_path, sources) == tmp_path / "XLSegments.xlam"
    with pytest.raises(AddinError, match=r"must be saved as an \.xlam file"):
        build_addin(tmp_path / "XLSegments.xlsm", sources)


# --- LibreOffice ------------------------------------------------------------------------------

_LO_HEADER = re.compile(
    r"\A(?:Rem Attribute VBA_ModuleType=\w+\n)?(?:Option VBASupport 1\n)?(?:Option ClassModule\n)?"
)
_MEMBER_ATTRIBUTE = re.compile(r"^Attribute \w+\.VB_\w+ = [^\n]*\n", re.MULTILINE)


@pytest.mark.libreoffice
@pytest.mark.slow
def test_libreoffice_opens_the_addin_and_keeps_our_modules(
    sources: AddinSources, xlam: Path, tmp_path: Path
) -> None:
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [
            "soffice",
            "--headless",
            f"-env:UserInstallation={profile.as_uri()}",
            # LibreOffice 7.4 does not recognise .xlam by its extension.
            "--infilter=Calc MS Excel 2007 VBA XML",
            "--convert-to",
            "ods",
            "--outdir",
            str(tmp_path),
            str(xlam),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    ods = zipfile.ZipFile(tmp_path / "XLSegments.ods")
    content = ods.read("content.xml").decode()
    assert 'table:name="xlwings.conf"' in content
    assert "UDF Modules" in content
    basic: dict[str, tuple[str | None, str]] = {}
    for name in ods.namelist():
        if re.fullmatch(r"Basic/XLSegments/[^/]+\.xml", name) and not name.endswith("-lb.xml"):
            root = ElementTree.fromstring(ods.read(name))
            basic[root.get(f"{{{SCRIPT_NS}}}name")] = (
                root.get(f"{{{SCRIPT_NS}}}moduleType"),
                root.text or "",
            )
    assert set(basic) == {m.name for m in sources.modules}
    kinds = {"standard": "normal", "class": "class", "document": "document"}
    for module in sources.modules:
        kind, text = basic[module.name]
        assert kind == kinds[module.kind], module.name
        # LibreOffice stores LF line ends, prepends its VBA-compatibility lines and drops
        # member attribute lines (Attribute Item.VB_UserMemId = 0) of the class module.
        expected = _MEMBER_ATTRIBUTE.sub("", _stored(module.source).replace("\r\n", "\n"))
        assert _LO_HEADER.sub("", text).rstrip("\n") == expected.rstrip("\n"), module.name


# --- command line and docs --------------------------------------------------------------------


def test_cli_builds_the_addin_and_says_where(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "My.xlam"
    result = CliRunner().invoke(addin, ["build", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output == f"Wrote the add-in to {out.resolve()}\n"
    assert zipfile.ZipFile(out).read("customUI/customUI.xml")


def test_cli_refuses_a_workbook_name_with_exit_code_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(addin, ["build", "--out", str(tmp_path / "x.xlsx")])
    assert result.exit_code == 2
    assert "must be saved as an .xlam file" in result.output
    assert "Traceback" not in result.output


def test_docs_explain_installing_and_every_button() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert "xlwings addin install -f XLSegments.xlam" in text
    assert "xl-segments addin build" in text
    for label in BUTTONS:
        assert f"**{label}**" in text, label
