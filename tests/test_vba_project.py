"""The VBA project we write, read back by oletools' olevba and by LibreOffice Calc."""

from __future__ import annotations

import io
import re
import shutil
import struct
import subprocess
import warnings
import zipfile
from pathlib import Path

import olefile
import openpyxl
import pytest
from defusedxml import ElementTree

from xl_segments.addin.ovba import (
    VbaModule,
    VbaReference,
    build_vba_project,
    decompress,
    decrypt,
)

with warnings.catch_warnings():
    # oletools calls pyparsing's deprecated camelCase API when it is imported.
    warnings.simplefilter("ignore", DeprecationWarning)
    from oletools.olevba import VBA_Parser

DATA = Path(__file__).parent / "data" / "vba"
SCRIPT_NS = "http://openoffice.org/2000/script"

CLASS_SOURCE = """Option Explicit

Private mItems As Collection

Private Sub Class_Initialize()
    Set mItems = New Collection
End Sub

Public Property Get Count() As Long
    Count = mItems.Count
End Property
"""

THIS_WORKBOOK_SOURCE = """Private Sub Workbook_Open()
    ' Nothing to do yet: the ribbon loads with the add-in.
End Sub
"""


def _fixture(name: str) -> VbaModule:
    return VbaModule.from_bas((DATA / f"{name}.bas").read_bytes().decode("cp1252"))


def _xlwings_module() -> VbaModule:
    xlwings = pytest.importorskip("xlwings")
    path = Path(xlwings.__file__).parent / "xlwings_custom_addin.bas"
    if not path.exists():
        pytest.skip("this xlwings has no xlwings_custom_addin.bas")
    return VbaModule.from_bas(path.read_bytes().decode("cp1252"))


@pytest.fixture(scope="module")
def modules() -> list[VbaModule]:
    return [
        VbaModule("ThisWorkbook", THIS_WORKBOOK_SOURCE, kind="document"),
        _xlwings_module(),
        _fixture("XLSegmentsRibbon"),
        _fixture("XLSegmentsUdfs"),
        VbaModule("ItemList", CLASS_SOURCE, kind="class"),
    ]


@pytest.fixture(scope="module")
def project(modules: list[VbaModule]) -> bytes:
    return build_vba_project(modules)


def _stored(source: str) -> str:
    """A source as the project stores it: every line CRLF-terminated."""
    lines = re.split(r"\r\n|\r|\n", source)
    if lines[-1] == "":
        lines.pop()
    return "".join(line + "\r\n" for line in lines)


def _without_header_attributes(code: str) -> str:
    """Module text minus the leading ``Attribute VB_...`` lines the VBE keeps ahead of code."""
    lines = code.split("\r\n")
    while lines and lines[0].startswith("Attribute VB_"):
        lines.pop(0)
    return "\r\n".join(lines)


def _olevba_modules(parser: VBA_Parser) -> dict[str, str]:
    return {stream.split("/")[-1]: code for _, stream, _, code in parser.extract_macros() if stream}


def _xlsm(vba_project: bytes) -> bytes:
    """A minimal macro-enabled workbook (openpyxl's workbook plus our VBA part)."""
    workbook = openpyxl.Workbook()
    workbook.code_name = "ThisWorkbook"  # binds the ThisWorkbook document module
    plain = io.BytesIO()
    workbook.save(plain)
    source = zipfile.ZipFile(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for name in source.namelist():
            data = source.read(name)
            if name == "[Content_Types].xml":
                text = data.decode()
                text = text.replace(
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                )
                text = text.replace(
                    "</Types>",
                    '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
                    "</Types>",
                )
                assert "macroEnabled" in text
                data = text.encode()
            elif name == "xl/_rels/workbook.xml.rels":
                data = data.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rIdVba" Target="vbaProject.bin" Type="http://schemas.'
                    b'microsoft.com/office/2006/relationships/vbaProject"/></Relationships>',
                )
            package.writestr(name, data)
        package.writestr("xl/vbaProject.bin", vba_project)
    return out.getvalue()


def _dir_records(project: bytes) -> list[tuple[int, bytes]]:
    """The dir stream's records as (id, data); PROJECTVERSION's odd layout handled."""
    ole = olefile.OleFileIO(io.BytesIO(project))
    stream = decompress(ole.openstream("VBA/dir").read())
    records, position = [], 0
    while position < len(stream):
        record_id, size = struct.unpack_from("<HI", stream, position)
        if record_id == 0x0009:
            # PROJECTVERSION: its Reserved (4) is not a size; kept in the data with the
            # 6 bytes of version that follow.
            records.append((record_id, stream[position + 2 : position + 12]))
            position += 12
            continue
        records.append((record_id, stream[position + 6 : position + 6 + size]))
        position += 6 + size
    assert position == len(stream)
    return records


# --- olevba ----------------------------------------------------------------------------


def test_olevba_reads_every_module_exactly(modules: list[VbaModule], project: bytes) -> None:
    parser = VBA_Parser("vbaProject.bin", data=project)
    assert parser.detect_vba_macros()
    found = _olevba_modules(parser)
    assert set(found) == {m.name for m in modules}
    for module in modules:
        code = found[module.name]
        assert code.startswith(f'Attribute VB_Name = "{module.name}"\r\n')
        assert _without_header_attributes(code) == _stored(module.source), module.name


def test_the_xlwings_module_is_long_and_complete(modules: list[VbaModule], project: bytes) -> None:
    xlwings_module = modules[1]
    assert len(xlwings_module.source) > 4096 * 5  # many compression chunks
    found = _olevba_modules(VBA_Parser("vbaProject.bin", data=project))
    assert _without_header_attributes(found[xlwings_module.name]) == _stored(xlwings_module.source)


def test_olevba_reads_it_inside_an_xlsm(
    modules: list[VbaModule], project: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "book.xlsm"
    path.write_bytes(_xlsm(project))
    parser = VBA_Parser(str(path))
    assert parser.type == "OpenXML"
    found = _olevba_modules(parser)
    assert {name: _without_header_attributes(code) for name, code in found.items()} == {
        m.name: _stored(m.source) for m in modules
    }


def test_document_and_class_modules_carry_excels_attributes(project: bytes) -> None:
    found = _olevba_modules(VBA_Parser("vbaProject.bin", data=project))
    assert found["ThisWorkbook"].startswith(
        'Attribute VB_Name = "ThisWorkbook"\r\n'
        'Attribute VB_Base = "0{00020819-0000-0000-C000-000000000046}"\r\n'
        "Attribute VB_GlobalNameSpace = False\r\n"
        "Attribute VB_Creatable = False\r\n"
        "Attribute VB_PredeclaredId = True\r\n"
        "Attribute VB_Exposed = True\r\n"
        "Attribute VB_TemplateDerived = False\r\n"
        "Attribute VB_Customizable = True\r\n"
    )
    assert found["ItemList"].startswith(
        'Attribute VB_Name = "ItemList"\r\n'
        'Attribute VB_Base = "0{FCFB3D2A-A0FA-1068-A738-08002B3371B5}"\r\n'
    )
    assert found["XLSegmentsUdfs"].startswith(
        'Attribute VB_Name = "XLSegmentsUdfs"\r\n\' UDF wrappers'
    )


def test_code_page_text_survives(project: bytes) -> None:
    found = _olevba_modules(VBA_Parser("vbaProject.bin", data=project))
    assert "café, crème, 5 €" in found["XLSegmentsRibbon"]


# --- the streams, field by field -------------------------------------------------------------


def test_container_layout(project: bytes) -> None:
    ole = olefile.OleFileIO(io.BytesIO(project), raise_defects=olefile.DEFECT_INCORRECT)
    assert sorted("/".join(p) for p in ole.listdir(streams=True)) == sorted(
        [
            "PROJECT",
            "PROJECTwm",
            "VBA/_VBA_PROJECT",
            "VBA/dir",
            "VBA/ThisWorkbook",
            "VBA/xlwings",
            "VBA/XLSegmentsRibbon",
            "VBA/XLSegmentsUdfs",
            "VBA/ItemList",
        ]
    )
    # No p-code: Version 0xFFFF and no PerformanceCache, so Excel compiles the source.
    assert ole.openstream("VBA/_VBA_PROJECT").read() == bytes.fromhex("CC61FFFF000100")
    # Module streams are the compressed source from offset 0.
    assert decompress(ole.openstream("VBA/XLSegmentsUdfs").read()).startswith(
        b'Attribute VB_Name = "XLSegmentsUdfs"'
    )


def test_project_stream(project: bytes) -> None:
    ole = olefile.OleFileIO(io.BytesIO(project))
    text = ole.openstream("PROJECT").read().decode("cp1252")
    lines = text.split("\r\n")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    match = re.fullmatch(r'ID="(\{[0-9A-F]{8}(?:-[0-9A-F]{4}){3}-[0-9A-F]{12}\})"', lines[0])
    assert match
    project_id = match.group(1)
    assert lines[1:6] == [
        "Document=ThisWorkbook/&H00000000",
        "Module=xlwings",
        "Module=XLSegmentsRibbon",
        "Module=XLSegmentsUdfs",
        "Class=ItemList",
    ]
    assert lines[6:9] == [
        'Name="XLSegments"',
        'HelpContextID="0"',
        'VersionCompatible32="393222000"',
    ]
    values = dict(line.split("=", 1) for line in lines[9:12])
    # 2.3.1.15-17: not protected, no password, visible; each checked against the project id.
    assert decrypt(bytes.fromhex(values["CMG"].strip('"')), project_id) == bytes(4)
    assert decrypt(bytes.fromhex(values["DPB"].strip('"')), project_id) == b"\x00"
    assert decrypt(bytes.fromhex(values["GC"].strip('"')), project_id) == b"\xff"
    assert lines[12:16] == [
        "",
        "[Host Extender Info]",
        "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000",
        "",
    ]
    assert lines[16] == "[Workspace]"
    assert lines[17:] == [
        "ThisWorkbook=0, 0, 0, 0, C",
        "xlwings=0, 0, 0, 0, C",
        "XLSegmentsRibbon=0, 0, 0, 0, C",
        "XLSegmentsUdfs=0, 0, 0, 0, C",
        "ItemList=0, 0, 0, 0, C",
        "",
    ]


def test_project_wm_stream(project: bytes) -> None:
    ole = olefile.OleFileIO(io.BytesIO(project))
    expected = b"".join(
        name.encode() + b"\x00" + name.encode("utf-16-le") + b"\x00\x00"
        for name in ["ThisWorkbook", "xlwings", "XLSegmentsRibbon", "XLSegmentsUdfs", "ItemList"]
    )
    assert ole.openstream("PROJECTwm").read() == expected + b"\x00\x00"


def test_dir_stream(project: bytes) -> None:
    records = _dir_records(project)
    ids = [record_id for record_id, _ in records]
    first = dict(records[:14])
    assert ids[:14] == [1, 2, 0x14, 3, 4, 5, 0x40, 6, 0x3D, 7, 8, 9, 0x0C, 0x3C]
    assert first[1] == struct.pack("<I", 1)  # SysKind: 32-bit Windows
    assert first[2] == first[0x14] == struct.pack("<I", 0x409)
    assert first[3] == struct.pack("<H", 1252)
    assert first[4] == b"XLSegments"
    assert first[9][:4] == struct.pack("<I", 4)  # PROJECTVERSION's Reserved
    # References: stdole then Office, each a name (MBCS + UTF-16) and a registered libid.
    assert ids[14:20] == [0x16, 0x3E, 0x0D, 0x16, 0x3E, 0x0D]
    assert records[14][1] == b"stdole" and records[15][1] == "stdole".encode("utf-16-le")
    libid = records[16][1]
    (size,) = struct.unpack_from("<I", libid)
    assert libid[4 : 4 + size].startswith(rb"*\G{00020430-0000-0000-C000-000000000046}#2.0#0#")
    assert libid[4 + size :] == bytes(6)
    assert records[17][1] == b"Office"
    assert ids[20:22] == [0x0F, 0x13]
    assert records[20][1] == struct.pack("<H", 5) and records[21][1] == b"\xff\xff"
    module_records = records[22:-1]
    assert records[-1] == (0x10, b"")
    per_module = [
        module_records[i : i + 11] for i in range(0, len(module_records), 11)
    ]  # 11 records each
    assert len(per_module) == 5
    kinds = {"ThisWorkbook": 0x22, "xlwings": 0x21, "ItemList": 0x22}
    for module in per_module:
        fields = dict(module)
        assert [rid for rid, _ in module] == [
            0x19, 0x47, 0x1A, 0x32, 0x1C, 0x48, 0x31, 0x1E, 0x2C, module[9][0], 0x2B,
        ]  # fmt: skip
        name = fields[0x19].decode()
        assert fields[0x47] == name.encode("utf-16-le")
        assert fields[0x1A] == fields[0x19] and fields[0x32] == fields[0x47]
        assert fields[0x31] == bytes(4)  # MODULEOFFSET 0: the source starts the stream
        assert fields[0x2C] == b"\xff\xff"
        assert module[9][0] == kinds.get(name, 0x21)


def test_custom_references(modules: list[VbaModule]) -> None:
    project = build_vba_project(modules[:1], references=[])
    ids = [record_id for record_id, _ in _dir_records(project)]
    assert 0x16 not in ids and 0x0D not in ids
    reference = VbaReference("Scripting", r"*\G{420B2830-E718-11CF-893D-00A0C9054228}#1.0#0##x")
    ids = [rid for rid, _ in _dir_records(build_vba_project([], references=[reference]))]
    assert ids.count(0x0D) == 1


# --- behaviour --------------------------------------------------------------------------


def test_this_workbook_is_added_when_missing() -> None:
    project = build_vba_project([VbaModule("Main", "Sub A()\nEnd Sub")])
    found = _olevba_modules(VBA_Parser("vbaProject.bin", data=project))
    assert set(found) == {"ThisWorkbook", "Main"}
    assert _without_header_attributes(found["Main"]) == "Sub A()\r\nEnd Sub\r\n"
    text = olefile.OleFileIO(io.BytesIO(project)).openstream("PROJECT").read().decode()
    assert "Document=ThisWorkbook/&H00000000\r\nModule=Main\r\n" in text


def test_builds_are_reproducible(modules: list[VbaModule], project: bytes) -> None:
    assert build_vba_project(modules) == project


def test_line_endings_become_crlf() -> None:
    project = build_vba_project([VbaModule("M", "Sub A()\r\n  x = 1\n  y = 2\rEnd Sub\n\n")])
    found = _olevba_modules(VBA_Parser("vbaProject.bin", data=project))
    assert (
        _without_header_attributes(found["M"]) == "Sub A()\r\n  x = 1\r\n  y = 2\r\nEnd Sub\r\n\r\n"
    )


def test_from_bas_takes_the_name_from_the_attribute_line() -> None:
    module = VbaModule.from_bas('Attribute VB_Name = "Tools"\r\nSub A()\r\nEnd Sub\r\n')
    assert module == VbaModule("Tools", "Sub A()\r\nEnd Sub\r\n")
    with pytest.raises(ValueError, match="Attribute VB_Name"):
        VbaModule.from_bas("Sub A()\r\nEnd Sub\r\n")


@pytest.mark.parametrize(
    ("modules", "message"),
    [
        (
            [VbaModule("M", "' ok\n' arrow → here\n")],
            r"module M: character '→' \(U\+2192\) on line 2",
        ),
        ([VbaModule("M", 'Attribute VB_Name = "M"\nSub A()\nEnd Sub')], "must not start"),
        ([VbaModule("1M", "")], "module name '1M'"),
        ([VbaModule("My Module", "")], "module name 'My Module'"),
        ([VbaModule("M" * 32, "")], "module name"),
        ([VbaModule("Modulé", "")], "module name"),
        ([VbaModule("M", ""), VbaModule("m", "")], "used twice"),
        ([VbaModule("ThisWorkbook", "")], "ThisWorkbook"),
    ],
)
def test_invalid_modules_are_rejected(modules: list[VbaModule], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_vba_project(modules)


def test_invalid_project_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="project name"):
        build_vba_project([], project_name="XL Segments")
    with pytest.raises(ValueError, match="code page"):
        build_vba_project([], codepage=99999)


# --- LibreOffice ------------------------------------------------------------------------------

_LO_HEADER_LINES = re.compile(
    r"\A(?:Rem Attribute VBA_ModuleType=\w+\n)?(?:Option VBASupport 1\n)?(?:Option ClassModule\n)?"
)


@pytest.mark.libreoffice
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_keeps_our_modules_as_basic(
    modules: list[VbaModule], project: bytes, tmp_path: Path
) -> None:
    book = tmp_path / "book.xlsm"
    book.write_bytes(_xlsm(project))
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [
            "soffice",
            "--headless",
            f"-env:UserInstallation={profile.as_uri()}",
            "--convert-to",
            "ods",
            "--outdir",
            str(tmp_path),
            str(book),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    ods = zipfile.ZipFile(tmp_path / "book.ods")
    basic: dict[str, tuple[str, str]] = {}
    for name in ods.namelist():
        if not re.fullmatch(r"Basic/[^/]+/[^/]+\.xml", name) or name.endswith("script-lb.xml"):
            continue
        # LibreOffice names the Basic library after the VBA project.
        assert name.startswith("Basic/XLSegments/"), name
        root = ElementTree.fromstring(ods.read(name))
        module_name = root.get(f"{{{SCRIPT_NS}}}name")
        module_type = root.get(f"{{{SCRIPT_NS}}}moduleType")
        basic[module_name] = (module_type, root.text or "")
    assert set(basic) == {m.name for m in modules}
    lo_types = {"standard": "normal", "class": "class", "document": "document"}
    for module in modules:
        module_type, text = basic[module.name]
        assert module_type == lo_types[module.kind], module.name
        # LibreOffice stores LF line ends and prepends its VBA-compatibility lines.
        body = _LO_HEADER_LINES.sub("", text)
        expected = _stored(module.source).replace("\r\n", "\n")
        assert body.rstrip("\n") == expected.rstrip("\n"), module.name
