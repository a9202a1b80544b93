"""Write an Excel VBA project (``xl/vbaProject.bin``) from VBA source text, per [MS-OVBA].

Implemented from the Microsoft Open Specification [MS-OVBA]: the compression algorithm
(2.4.1: CompressedContainer 2.4.1.1.1, compression 2.4.1.3.6-2.4.1.3.19, decompression
2.4.1.3.1-2.4.1.3.5), the data "encryption" of the PROJECT stream (2.4.3.1-2.4.3.3), the
PROJECT stream (2.3.1), the PROJECTwm stream (2.3.3), the _VBA_PROJECT stream (2.3.4.1),
the dir stream (2.3.4.2) and the module streams (2.3.4.3), laid out as the storages and
streams of 2.2 inside a Compound File Binary container ([MS-CFB], see :mod:`.cfb`).

No compiled p-code is written: the _VBA_PROJECT stream has Version 0xFFFF and no
PerformanceCache (2.3.4.1: "MUST be 0xFFFF on write", "MUST NOT be present on write") and
every module's MODULEOFFSET is 0, so the host ignores any cache and compiles the source.
"""

from __future__ import annotations

import hashlib
import re
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from xl_segments.addin.cfb import build_compound_file

__all__ = [
    "DEFAULT_REFERENCES",
    "VbaModule",
    "VbaReference",
    "build_vba_project",
    "compress",
    "decompress",
    "decrypt",
    "encrypt",
]

# --- Compression, [MS-OVBA] 2.4.1 ---------------------------------------------------------

_CHUNK = 4096  # decompressed bytes per chunk (2.4.1.1.4)
_CONTAINER_SIGNATURE = 0x01  # CompressedContainer.SignatureByte (2.4.1.1.1)
_CHUNK_SIGNATURE = 0b011  # CompressedChunkHeader.CompressedChunkSignature (2.4.1.1.5)
_MAX_CHUNK_DATA = 4096  # CompressedChunkSize is at most 4098, two of which are the header


def _copy_token_help(difference: int) -> tuple[int, int, int]:
    """CopyToken Help (2.4.1.3.19.1): bit count, length mask and maximum length.

    ``difference`` is how far the current position is into the decompressed chunk: the
    further in, the more bits the offset needs and the fewer are left for the length.
    """
    bit_count = 4
    while (1 << bit_count) < difference:
        bit_count += 1
    length_mask = 0xFFFF >> bit_count
    return bit_count, length_mask, length_mask + 3


def _common_length(buf: bytes, candidate: int, current: int, end: int) -> int:
    """How many bytes from ``candidate`` equal those from ``current``, stopping at ``end``.

    The two ranges may overlap (candidate + n >= current): the decompressor copies byte by
    byte, so an overlapping copy reproduces a run, as 3.2.3 (Maximum Compression) shows.
    """
    n = 0
    limit = end - current
    # Compare 32 bytes at a time first: same result as the byte loop, much faster.
    while (
        n + 32 <= limit
        and buf[candidate + n : candidate + n + 32] == buf[current + n : current + n + 32]
    ):
        n += 32
    while n < limit and buf[candidate + n] == buf[current + n]:
        n += 1
    return n


def _compress_chunk(buf: bytes, start: int, end: int) -> bytes:
    """The CompressedData of one chunk, token by token (2.4.1.3.7-2.4.1.3.9).

    Matching follows 2.4.1.3.19.4 exactly: candidates are tried from the nearest to the
    farthest and one replaces the best only if strictly longer, so ties go to the nearest.
    Only candidates sharing the next three bytes are tried (a hash chain): any other has a
    match shorter than three, which the specification discards anyway, so the output is
    byte-for-byte what the specification's exhaustive search gives.
    """
    out = bytearray()
    heads: dict[bytes, list[int]] = {}  # 3-byte prefix -> positions in this chunk, ascending
    indexed = start  # every position before this one is in ``heads``

    def index_up_to(position: int) -> None:
        nonlocal indexed
        while indexed < position:
            if indexed + 3 <= end:
                heads.setdefault(buf[indexed : indexed + 3], []).append(indexed)
            indexed += 1

    current = start
    while current < end:
        flag_at = len(out)
        out.append(0)
        flags = 0
        for bit in range(8):
            if current >= end:
                break
            index_up_to(current)
            best_length = 0
            best_candidate = 0
            if current + 3 <= end:
                longest_possible = end - current
                for candidate in reversed(heads.get(buf[current : current + 3], ())):
                    if best_length:
                        # Only a candidate agreeing on the first best_length + 1 bytes can
                        # be strictly longer: check that cheaply before extending it.
                        reach = best_length + 1
                        if buf[candidate + best_length] != buf[current + best_length] or (
                            buf[candidate : candidate + reach] != buf[current : current + reach]
                        ):
                            continue
                        length = reach + _common_length(
                            buf, candidate + reach, current + reach, end
                        )
                    else:
                        length = _common_length(buf, candidate, current, end)
                    if length > best_length:
                        best_length, best_candidate = length, candidate
                        if length == longest_possible:
                            break  # nothing farther can be strictly longer
            if best_length >= 3:
                bit_count, _, maximum_length = _copy_token_help(current - start)
                length = min(best_length, maximum_length)
                offset = current - best_candidate
                token = ((offset - 1) << (16 - bit_count)) | (length - 3)
                out += struct.pack("<H", token)
                flags |= 1 << bit
                current += length
            else:
                out.append(buf[current])
                current += 1
        out[flag_at] = flags
    return bytes(out)


def compress(data: bytes) -> bytes:
    """Compress ``data`` into a CompressedContainer ([MS-OVBA] 2.4.1.3.6).

    Each 4096-byte slice becomes one chunk. A chunk whose compressed form would not fit in
    4096 bytes is stored raw (2.4.1.3.10); the specification pads a raw chunk to 4096 bytes
    with zeros, so only a final chunk of 3641-4095 nearly incompressible bytes would come
    back longer than it went in. Text always compresses, so VBA source never hits that.
    """
    data = bytes(data)
    out = bytearray([_CONTAINER_SIGNATURE])
    for start in range(0, len(data), _CHUNK):
        end = min(start + _CHUNK, len(data))
        body = _compress_chunk(data, start, end)
        if len(body) <= _MAX_CHUNK_DATA:
            header = 0x8000 | (_CHUNK_SIGNATURE << 12) | (len(body) + 2 - 3)
            out += struct.pack("<H", header) + body
        else:
            raw = data[start:end].ljust(_CHUNK, b"\x00")
            out += struct.pack("<H", (_CHUNK_SIGNATURE << 12) | (_CHUNK + 2 - 3)) + raw
    return bytes(out)


def decompress(data: bytes) -> bytes:
    """Decompress a CompressedContainer ([MS-OVBA] 2.4.1.3.1); ValueError if malformed."""
    if not data or data[0] != _CONTAINER_SIGNATURE:
        raise ValueError("not an MS-OVBA compressed container: first byte must be 0x01")
    out = bytearray()
    position = 1
    while position < len(data):
        if position + 2 > len(data):
            raise ValueError(f"truncated chunk header at byte {position}")
        (header,) = struct.unpack_from("<H", data, position)
        size = (header & 0x0FFF) + 3
        if (header >> 12) & 0b111 != _CHUNK_SIGNATURE:
            raise ValueError(f"bad chunk signature at byte {position}")
        chunk_end = min(position + size, len(data))
        position += 2
        chunk_start = len(out)
        if not header & 0x8000:
            # Raw chunk (2.4.1.3.3): 4096 literal bytes.
            out += data[position : position + _CHUNK]
            position = chunk_end
            continue
        while position < chunk_end:  # token sequences (2.4.1.3.4)
            flags = data[position]
            position += 1
            for bit in range(8):
                if position >= chunk_end:
                    break
                if not flags & (1 << bit):
                    out.append(data[position])
                    position += 1
                    continue
                if position + 2 > chunk_end:
                    raise ValueError(f"truncated copy token at byte {position}")
                (token,) = struct.unpack_from("<H", data, position)
                position += 2
                bit_count, length_mask, _ = _copy_token_help(len(out) - chunk_start)
                length = (token & length_mask) + 3
                offset = (token >> (16 - bit_count)) + 1
                source = len(out) - offset
                if source < chunk_start:
                    raise ValueError(f"copy token reaches before its chunk at byte {position}")
                for i in range(length):  # byte by byte: the copy may overlap its own output
                    out.append(out[source + i])
    return bytes(out)


# --- Data encryption, [MS-OVBA] 2.4.3 -----------------------------------------------------


def _project_key(project_id: str) -> int:
    """ProjKey: the byte sum of ProjectId.ProjectCLSID, the GUID text with braces (2.4.3.2)."""
    return sum(project_id.encode("ascii")) & 0xFF


def encrypt(data: bytes, project_id: str, seed: int, ignored: bytes | None = None) -> bytes:
    """Obfuscate ``data`` as an Encrypted Data Structure (2.4.3.1, algorithm 2.4.3.2).

    ``seed`` is the Seed byte (random in Excel; we take it as a parameter so builds are
    reproducible). ``ignored`` supplies the (Seed AND 6) / 2 arbitrary IgnoredEnc bytes;
    zeros if omitted. The PROJECT stream stores the result as upper-case hex.
    """
    seed &= 0xFF
    ignored_length = (seed & 6) // 2
    ignored = bytes(ignored_length) if ignored is None else bytes(ignored)
    if len(ignored) != ignored_length:
        raise ValueError(f"seed 0x{seed:02X} needs {ignored_length} ignored bytes")
    version = 2
    project_key = _project_key(project_id)
    version_enc = seed ^ version
    project_key_enc = seed ^ project_key
    out = bytearray([seed, version_enc, project_key_enc])
    unencrypted_1, encrypted_1, encrypted_2 = project_key, project_key_enc, version_enc
    for byte in ignored + struct.pack("<I", len(data)) + bytes(data):
        byte_enc = byte ^ ((encrypted_2 + unencrypted_1) & 0xFF)
        out.append(byte_enc)
        encrypted_2, encrypted_1, unencrypted_1 = encrypted_1, byte_enc, byte
    return bytes(out)


def decrypt(encrypted: bytes, project_id: str | None = None) -> bytes:
    """Recover Data from an Encrypted Data Structure (2.4.3.3); ValueError if malformed.

    With ``project_id``, also check that ProjKey is that project's checksum.
    """
    if len(encrypted) < 7:
        raise ValueError("encrypted data too short")
    seed, version_enc, project_key_enc = encrypted[0], encrypted[1], encrypted[2]
    if seed ^ version_enc != 2:
        raise ValueError("encrypted data version is not 2")
    project_key = seed ^ project_key_enc
    if project_id is not None and project_key != _project_key(project_id):
        raise ValueError("encrypted data was made for another project id")
    unencrypted_1, encrypted_1, encrypted_2 = project_key, project_key_enc, version_enc
    plain = bytearray()
    for byte_enc in encrypted[3:]:
        byte = byte_enc ^ ((encrypted_2 + unencrypted_1) & 0xFF)
        plain.append(byte)
        encrypted_2, encrypted_1, unencrypted_1 = encrypted_1, byte_enc, byte
    ignored_length = (seed & 6) // 2
    body = plain[ignored_length:]
    (length,) = struct.unpack_from("<I", body, 0)
    data = bytes(body[4:])
    if len(data) != length:
        raise ValueError(f"encrypted data length {len(data)} is not the recorded {length}")
    return data


# --- The VBA project ------------------------------------------------------------------------

ModuleKind = Literal["standard", "document", "class"]

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_LEADING_VB_NAME = re.compile(r"\A\s*Attribute\s+VB_Name\s*=", re.IGNORECASE)
_BAS_VB_NAME = re.compile(r'\A\s*Attribute\s+VB_Name\s*=\s*"([^"]*)"[^\r\n]*(?:\r\n|\r|\n)?')
_NEWLINE = re.compile(r"\r\n|\r|\n")

# VB_Base of each module kind, as Excel stores it: the CLSIDs of Excel's Workbook and
# Worksheet objects for document modules, and of a VBA class module for classes.
_WORKBOOK_BASE = "0{00020819-0000-0000-C000-000000000046}"
_WORKSHEET_BASE = "0{00020820-0000-0000-C000-000000000046}"
_CLASS_BASE = "0{FCFB3D2A-A0FA-1068-A738-08002B3371B5}"

# [Host Extender Info] line every Office host writes: the VBE's own extender (2.3.1.18).
_HOST_EXTENDER = "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000"

# Namespace for the project's CLSID, derived from its name so builds are reproducible.
_PROJECT_ID_NAMESPACE = uuid.UUID("6b1e4c1a-2f2a-4d7e-9d0c-5a1d3f0e8b21")


@dataclass(frozen=True)
class VbaModule:
    """One VBA module: its name, its source text (no ``Attribute VB_Name`` line) and kind.

    ``kind`` is "standard" (a .bas module), "class" (a .cls class module) or "document"
    (the code behind ``ThisWorkbook`` or a worksheet, whose name must be that object's
    code name in the workbook).
    """

    name: str
    source: str
    kind: ModuleKind = "standard"

    @classmethod
    def from_bas(cls, text: str, kind: ModuleKind = "standard") -> VbaModule:
        """A module from exported .bas text: its name from the ``Attribute VB_Name`` line."""
        match = _BAS_VB_NAME.match(text)
        if match is None:
            raise ValueError('exported module text must start with Attribute VB_Name = "..."')
        return cls(name=match.group(1), source=text[match.end() :], kind=kind)


@dataclass(frozen=True)
class VbaReference:
    """A registered type library reference (REFERENCENAME + REFERENCEREGISTERED, 2.3.4.2.2)."""

    name: str
    libid: str  # LibidReference (2.1.1.8): *\G{guid}#major.minor#lcid#path#description


# The references Excel itself writes into a new workbook's project: OLE Automation
# (stdole2) and the Office object library (needed by e.g. ``control As IRibbonControl`` in
# ribbon callbacks). The VBA and Excel libraries are implicit and never stored. VBA finds a
# registered library by its GUID and version; the path is only a hint.
DEFAULT_REFERENCES: tuple[VbaReference, ...] = (
    VbaReference(
        "stdole",
        r"*\G{00020430-0000-0000-C000-000000000046}#2.0#0"
        r"#C:\Windows\System32\stdole2.tlb#OLE Automation",
    ),
    VbaReference(
        "Office",
        r"*\G{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}#2.0#0"
        r"#C:\Program Files\Common Files\Microsoft Shared\OFFICE16\MSO.DLL"
        r"#Microsoft Office 16.0 Object Library",
    ),
)


def _encode(text: str, codec: str, what: str) -> bytes:
    """``text`` in the project code page, or a ValueError that says where it cannot be."""
    try:
        return text.encode(codec)
    except UnicodeEncodeError as error:
        line = text.count("\n", 0, error.start) + 1
        bad = text[error.start : error.end]
        raise ValueError(
            f"{what}: character {bad!r} (U+{ord(bad[0]):04X}) on line {line} cannot be "
            f"encoded in the project code page ({codec}); VBA source is stored in that code page"
        ) from None


def _crlf(text: str) -> str:
    """Every line ended by CRLF, as the VBE stores module text."""
    lines = _NEWLINE.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return "".join(line + "\r\n" for line in lines)


def _attributes(module: VbaModule) -> str:
    """The module's attribute lines as the VBE stores them ahead of the code (MS-VBAL 4.2)."""
    lines = [f'Attribute VB_Name = "{module.name}"']
    if module.kind == "document":
        base = _WORKBOOK_BASE if module.name == "ThisWorkbook" else _WORKSHEET_BASE
        lines += [
            f'Attribute VB_Base = "{base}"',
            "Attribute VB_GlobalNameSpace = False",
            "Attribute VB_Creatable = False",
            "Attribute VB_PredeclaredId = True",
            "Attribute VB_Exposed = True",
            "Attribute VB_TemplateDerived = False",
            "Attribute VB_Customizable = True",
        ]
    elif module.kind == "class":
        lines += [
            f'Attribute VB_Base = "{_CLASS_BASE}"',
            "Attribute VB_GlobalNameSpace = False",
            "Attribute VB_Creatable = False",
            "Attribute VB_PredeclaredId = False",
            "Attribute VB_Exposed = False",
            "Attribute VB_TemplateDerived = False",
            "Attribute VB_Customizable = False",
        ]
    return "".join(line + "\r\n" for line in lines)


def _module_text(module: VbaModule, codec: str) -> bytes:
    """The full stored text of a module: attribute lines, then the source, CRLF-ended."""
    if _LEADING_VB_NAME.match(module.source):
        raise ValueError(
            f"module {module.name}: source must not start with Attribute VB_Name "
            "(it is added from the module name; use VbaModule.from_bas for exported text)"
        )
    # Encoded apart so that an error's line number counts lines of the given source.
    source = _encode(_crlf(module.source), codec, f"module {module.name}")
    return _attributes(module).encode(codec) + source


def _check_modules(modules: Sequence[VbaModule]) -> list[VbaModule]:
    """Validated modules, with an empty ThisWorkbook document module first if none given."""
    seen: set[str] = set()
    for module in modules:
        if module.kind not in ("standard", "document", "class"):
            raise ValueError(f"module {module.name}: unknown kind {module.kind!r}")
        # VBA identifiers: a letter, then letters, digits or underscores; 31 characters at
        # most, which is also the longest CFB stream name the module's stream can have.
        if not _IDENTIFIER.match(module.name) or len(module.name) > 31:
            raise ValueError(
                f"module name {module.name!r} must be a letter followed by up to 30 "
                "ASCII letters, digits or underscores"
            )
        key = module.name.upper()
        if key in seen:
            raise ValueError(f"module name {module.name!r} is used twice (names ignore case)")
        seen.add(key)
    checked = list(modules)
    this_workbook = [m for m in checked if m.name.upper() == "THISWORKBOOK"]
    if not this_workbook:
        checked.insert(0, VbaModule("ThisWorkbook", "", kind="document"))
    elif this_workbook[0].kind != "document" or this_workbook[0].name != "ThisWorkbook":
        raise ValueError('the "ThisWorkbook" module must be a document module of that exact name')
    return checked


def _record(record_id: int, payload: bytes) -> bytes:
    """An Id / Size / Data record, the shape of nearly every dir stream record (2.3.4.2)."""
    return struct.pack("<HI", record_id, len(payload)) + payload


def _dir_stream(
    modules: Sequence[VbaModule],
    project_name: str,
    codepage: int,
    references: Sequence[VbaReference],
) -> bytes:
    """The decompressed dir stream (2.3.4.2): project information, references, modules."""
    codec = f"cp{codepage}"

    def mbcs(text: str) -> bytes:
        return _encode(text, codec, "dir stream")

    def utf16(text: str) -> bytes:
        return text.encode("utf-16-le")

    out = bytearray()
    # PROJECTINFORMATION (2.3.4.2.1)
    # SysKind 0x01 is 32-bit Windows: what 32-bit Office writes. Without p-code the
    # project is compiled on load, and 64-bit Office opens SysKind 1 projects (files travel
    # between bitnesses all the time); our sources contain no Declare statements whose
    # meaning would depend on it.
    out += _record(0x0001, struct.pack("<I", 0x00000001))  # PROJECTSYSKIND
    out += _record(0x0002, struct.pack("<I", 0x0409))  # PROJECTLCID: MUST be 0x409
    out += _record(0x0014, struct.pack("<I", 0x0409))  # PROJECTLCIDINVOKE: MUST be 0x409
    out += _record(0x0003, struct.pack("<H", codepage))  # PROJECTCODEPAGE
    out += _record(0x0004, mbcs(project_name))  # PROJECTNAME
    out += _record(0x0005, b"") + _record(0x0040, b"")  # PROJECTDOCSTRING (+ Unicode)
    out += _record(0x0006, b"") + _record(0x003D, b"")  # PROJECTHELPFILEPATH (1 and 2)
    out += _record(0x0007, struct.pack("<I", 0))  # PROJECTHELPCONTEXT
    out += _record(0x0008, struct.pack("<I", 0))  # PROJECTLIBFLAGS: MUST be 0
    # PROJECTVERSION: its Reserved field MUST be 4, which is not the size of what follows.
    out += struct.pack("<HIIH", 0x0009, 0x00000004, 1, 0)
    out += _record(0x000C, b"") + _record(0x003C, b"")  # PROJECTCONSTANTS (+ Unicode)
    # PROJECTREFERENCES (2.3.4.2.2): REFERENCENAME then REFERENCEREGISTERED for each.
    for reference in references:
        out += _record(0x0016, mbcs(reference.name)) + _record(0x003E, utf16(reference.name))
        libid = mbcs(reference.libid)
        # Size covers SizeOfLibid, Libid, Reserved1 (u32 0) and Reserved2 (u16 0).
        out += _record(0x000D, struct.pack("<I", len(libid)) + libid + struct.pack("<IH", 0, 0))
    # PROJECTMODULES (2.3.4.2.3)
    out += _record(0x000F, struct.pack("<H", len(modules)))
    out += _record(0x0013, struct.pack("<H", 0xFFFF))  # PROJECTCOOKIE: 0xFFFF on write
    for module in modules:
        name = mbcs(module.name)
        out += _record(0x0019, name) + _record(0x0047, utf16(module.name))  # MODULENAME(+U)
        out += _record(0x001A, name) + _record(0x0032, utf16(module.name))  # MODULESTREAMNAME
        out += _record(0x001C, b"") + _record(0x0048, b"")  # MODULEDOCSTRING (+ Unicode)
        out += _record(0x0031, struct.pack("<I", 0))  # MODULEOFFSET: source at offset 0
        out += _record(0x001E, struct.pack("<I", 0))  # MODULEHELPCONTEXT
        out += _record(0x002C, struct.pack("<H", 0xFFFF))  # MODULECOOKIE: 0xFFFF on write
        # MODULETYPE: 0x0021 procedural, 0x0022 document/class/designer; Reserved is 0.
        out += _record(0x0021 if module.kind == "standard" else 0x0022, b"")
        out += _record(0x002B, b"")  # module Terminator
    out += _record(0x0010, b"")  # dir stream Terminator
    return bytes(out)


def _project_stream(
    modules: Sequence[VbaModule], project_name: str, project_id: str, codec: str
) -> bytes:
    """The PROJECT stream (2.3.1): the project's properties as text, unprotected."""
    seed = hashlib.sha256(project_id.encode("ascii")).digest()

    def encrypted(data: bytes, index: int) -> str:
        # Seeds are random in Excel; deriving them from the id keeps builds reproducible.
        return encrypt(data, project_id, seed[index]).hex().upper()

    protection_state = encrypted(bytes(4), 0)
    password = encrypted(bytes(1), 1)
    visibility = encrypted(bytes([0xFF]), 2)
    lines = [f'ID="{project_id}"']
    for module in modules:
        if module.kind == "document":
            lines.append(f"Document={module.name}/&H00000000")  # ProjectDocModule 2.3.1.4
        elif module.kind == "class":
            lines.append(f"Class={module.name}")  # ProjectClassModule 2.3.1.6
        else:
            lines.append(f"Module={module.name}")  # ProjectStdModule 2.3.1.5
    lines += [
        f'Name="{project_name}"',
        'HelpContextID="0"',
        'VersionCompatible32="393222000"',
        # ProjectProtectionState (2.3.1.15): 4 bytes, 0 = not protected by anyone.
        f'CMG="{protection_state}"',
        # ProjectPassword (2.3.1.16): "without a password MUST use 0x00 ... Length 1".
        f'DPB="{password}"',
        # ProjectVisibilityState (2.3.1.17): 0xFF, the project is visible.
        f'GC="{visibility}"',
        "",
        "[Host Extender Info]",
        _HOST_EXTENDER,
        "",
        "[Workspace]",
    ]
    # ProjectWorkspace (2.3.1.19): where each module's code window was; none open.
    lines += [f"{module.name}=0, 0, 0, 0, C" for module in modules]
    return _encode("".join(line + "\r\n" for line in lines), codec, "PROJECT stream")


def _project_wm_stream(modules: Sequence[VbaModule], codec: str) -> bytes:
    """The PROJECTwm stream (2.3.3): each module name in MBCS and in UTF-16."""
    out = bytearray()
    for module in modules:
        out += module.name.encode(codec) + b"\x00" + module.name.encode("utf-16-le") + b"\x00\x00"
    return bytes(out + b"\x00\x00")


def build_vba_project(
    modules: Sequence[VbaModule],
    project_name: str = "XLSegments",
    codepage: int = 1252,
    references: Sequence[VbaReference] = DEFAULT_REFERENCES,
) -> bytes:
    """The bytes of ``xl/vbaProject.bin`` holding ``modules`` as source only (no p-code).

    A ``ThisWorkbook`` document module is added, empty, when none is given: every Excel
    workbook project has one. Raises ValueError for invalid names or for source text the
    code page cannot encode.
    """
    if not _IDENTIFIER.match(project_name) or len(project_name) > 128:
        raise ValueError(
            f"project name {project_name!r} must be a letter followed by ASCII letters, "
            "digits or underscores (128 characters at most)"
        )
    codec = f"cp{codepage}"
    try:
        "".encode(codec)
    except LookupError:
        raise ValueError(f"unknown code page {codepage}") from None
    checked = _check_modules(modules)
    project_id = "{" + str(uuid.uuid5(_PROJECT_ID_NAMESPACE, project_name)).upper() + "}"
    streams: dict[str, bytes] = {
        "PROJECT": _project_stream(checked, project_name, project_id, codec),
        "PROJECTwm": _project_wm_stream(checked, codec),
        # _VBA_PROJECT (2.3.4.1): Reserved1 0x61CC, Version 0xFFFF, Reserved2 0x00,
        # Reserved3 0x0001 (as in the 3.1.1 example), and no PerformanceCache.
        "VBA/_VBA_PROJECT": struct.pack("<HHBH", 0x61CC, 0xFFFF, 0x00, 0x0001),
        "VBA/dir": compress(_dir_stream(checked, project_name, codepage, references)),
    }
    for module in checked:
        # Module stream (2.3.4.3): PerformanceCache (none) then the CompressedSourceCode.
        streams[f"VBA/{module.name}"] = compress(_module_text(module, codec))
    return build_compound_file(streams)
