"""Read an OOXML package's zip entries and write a new package that copies untouched parts raw."""

from __future__ import annotations

import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote
from xml.sax.saxutils import escape as _sax_escape
from xml.sax.saxutils import unescape as _sax_unescape

from defusedxml import ElementTree as SafeET

from xl_segments.errors import WorkbookError

# Sizes, offsets and counts at or above these need ZIP64 records. Module-level so tests can
# lower them and exercise the ZIP64 paths without writing 4 GB files.
ZIP64_LIMIT = 0xFFFFFFFF
ZIP64_COUNT_LIMIT = 0xFFFF

_LOCAL_SIG = 0x04034B50
_CENTRAL_SIG = 0x02014B50
_EOCD_SIG = 0x06054B50
_ZIP64_EOCD_SIG = 0x06064B50
_ZIP64_LOCATOR_SIG = 0x07064B50
_FLAG_DATA_DESCRIPTOR = 0x08
_FLAG_UTF8 = 0x800
_COPY_CHUNK = 1 << 20

REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
STRICT_MAIN_NS = "http://purl.oclc.org/ooxml/spreadsheetml/main"


# ---------------------------------------------------------------------------------------------
# Zip writing


@dataclass
class _Entry:
    name: bytes
    flags: int
    method: int
    dostime: int
    dosdate: int
    crc: int
    csize: int
    usize: int
    offset: int
    version_needed: int
    version_made: int
    external_attr: int
    internal_attr: int


def _dos_stamp(date_time: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    year, month, day, hour, minute, second = date_time
    # Bit-exact inverse of how zipfile decoded the stamp, so copied entries keep their times.
    dosdate = ((year - 1980) << 9 | month << 5 | day) & 0xFFFF
    dostime = (hour << 11 | minute << 5 | second // 2) & 0xFFFF
    return dostime, dosdate


# A fixed stamp for parts we write, so the same report gives the same bytes.
_NEW_PART_STAMP = _dos_stamp((1980, 1, 1, 0, 0, 0))


class ZipWriter:
    """A minimal zip writer: raw copies of existing entries plus deflated new ones.

    The standard library cannot copy an entry's compressed bytes without inflating and
    deflating them again, which is most of the cost on a large Orders sheet.
    """

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._entries: list[_Entry] = []
        self._names: set[bytes] = set()
        self._pos = out.tell()

    def _check_name(self, name: bytes) -> None:
        if name in self._names:
            raise WorkbookError(f"Internal error: zip entry {name!r} written twice.")
        self._names.add(name)

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._pos += len(data)

    def _local_header(self, e: _Entry, zip64: bool) -> bytes:
        extra = b""
        csize, usize = e.csize, e.usize
        if zip64:
            extra = struct.pack("<HHQQ", 0x0001, 16, e.usize, e.csize)
            csize = usize = 0xFFFFFFFF
        return (
            struct.pack(
                "<IHHHHHIIIHH",
                _LOCAL_SIG,
                e.version_needed,
                e.flags,
                e.method,
                e.dostime,
                e.dosdate,
                e.crc,
                csize,
                usize,
                len(e.name),
                len(extra),
            )
            + e.name
            + extra
        )

    def copy_raw(self, info: zipfile.ZipInfo, source: BinaryIO) -> None:
        """Copy one entry of an open source zip without recompressing it."""
        name = _name_bytes(info)
        self._check_name(name)
        dostime, dosdate = _dos_stamp(info.date_time)
        big = info.file_size >= ZIP64_LIMIT or info.compress_size >= ZIP64_LIMIT
        entry = _Entry(
            name=name,
            # Sizes and CRC go in the local header, so no data descriptor follows the data.
            flags=info.flag_bits & ~_FLAG_DATA_DESCRIPTOR,
            method=info.compress_type,
            dostime=dostime,
            dosdate=dosdate,
            crc=info.CRC,
            csize=info.compress_size,
            usize=info.file_size,
            offset=self._pos,
            version_needed=max(info.extract_version, 45 if big else 20),
            version_made=(info.create_system << 8) | (info.create_version & 0xFF),
            external_attr=info.external_attr,
            internal_attr=info.internal_attr,
        )
        if info.flag_bits & 0x1:
            raise WorkbookError(f"The workbook part {info.filename} is encrypted; cannot copy it.")
        self._write(self._local_header(entry, big))
        remaining = info.compress_size
        source.seek(data_offset(info, source))
        while remaining:
            chunk = source.read(min(_COPY_CHUNK, remaining))
            if not chunk:
                raise WorkbookError(f"The workbook part {info.filename} is truncated.")
            self._write(chunk)
            remaining -= len(chunk)
        self._entries.append(entry)

    def write(self, name: str, data: bytes | Iterable[bytes], level: int = 6) -> None:
        """Deflate bytes (or a stream of byte chunks) into a new entry."""
        entry = self._new_entry(name, zipfile.ZIP_DEFLATED)
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        if isinstance(data, bytes | bytearray | memoryview):
            payload = compressor.compress(data) + compressor.flush()
            entry.crc = zlib.crc32(data)
            entry.usize = len(data)
            entry.csize = len(payload)
            self._check_size(entry)
            self._write(self._local_header(entry, False))
            self._write(payload)
        else:
            # Streamed: write a placeholder header, then patch CRC and sizes in place. Our
            # output is always a seekable file, and a patched header reads everywhere, unlike
            # a data descriptor, which some readers of streamed parts handle poorly.
            header_at = self._pos
            self._write(self._local_header(entry, False))
            crc = 0
            usize = csize = 0
            for chunk in data:
                crc = zlib.crc32(chunk, crc)
                usize += len(chunk)
                packed = compressor.compress(chunk)
                csize += len(packed)
                self._write(packed)
            tail = compressor.flush()
            csize += len(tail)
            self._write(tail)
            entry.crc, entry.usize, entry.csize = crc, usize, csize
            self._check_size(entry)
            self._out.seek(header_at + 14)
            self._out.write(struct.pack("<III", crc, csize, usize))
            self._out.seek(self._pos)
        self._entries.append(entry)

    def stored_entry(self, name: str) -> StoredEntry:
        """A new uncompressed entry whose bytes are written piece by piece, then closed."""
        entry = self._new_entry(name, zipfile.ZIP_STORED)
        self._write(self._local_header(entry, False))
        return StoredEntry(self, entry)

    def _new_entry(self, name: str, method: int) -> _Entry:
        """A part we write ourselves, starting here: CRC and sizes are filled in later."""
        raw_name = name.encode("utf-8")
        self._check_name(raw_name)
        return _Entry(
            name=raw_name,
            flags=0 if raw_name.isascii() else _FLAG_UTF8,
            method=method,
            dostime=_NEW_PART_STAMP[0],
            dosdate=_NEW_PART_STAMP[1],
            crc=0,
            csize=0,
            usize=0,
            offset=self._pos,
            version_needed=20,
            version_made=20,
            external_attr=0,
            internal_attr=0,
        )

    @staticmethod
    def _check_size(entry: _Entry) -> None:
        if entry.usize >= ZIP64_LIMIT or entry.csize >= ZIP64_LIMIT:
            # Excel caps a sheet far below this; a part this big means something else is wrong.
            raise WorkbookError(
                f"The workbook part {entry.name.decode()} would be larger than 4 GB; "
                "write fewer rows."
            )

    def close(self) -> None:
        """Write the central directory and end records."""
        cd_start = self._pos
        for e in self._entries:
            fields: list[int] = []
            usize, csize, offset = e.usize, e.csize, e.offset
            if usize >= ZIP64_LIMIT:
                fields.append(usize)
                usize = 0xFFFFFFFF
            if csize >= ZIP64_LIMIT:
                fields.append(csize)
                csize = 0xFFFFFFFF
            if offset >= ZIP64_LIMIT:
                fields.append(offset)
                offset = 0xFFFFFFFF
            extra = b""
            version_needed = e.version_needed
            if fields:
                extra = struct.pack(f"<HH{len(fields)}Q", 0x0001, 8 * len(fields), *fields)
                version_needed = max(version_needed, 45)
            self._write(
                struct.pack(
                    "<IHHHHHHIIIHHHHHII",
                    _CENTRAL_SIG,
                    e.version_made,
                    version_needed,
                    e.flags,
                    e.method,
                    e.dostime,
                    e.dosdate,
                    e.crc,
                    csize,
                    usize,
                    len(e.name),
                    len(extra),
                    0,
                    0,
                    e.internal_attr,
                    e.external_attr,
                    offset,
                )
                + e.name
                + extra
            )
        cd_size = self._pos - cd_start
        count = len(self._entries)
        if count >= ZIP64_COUNT_LIMIT or cd_size >= ZIP64_LIMIT or cd_start >= ZIP64_LIMIT:
            eocd64_at = self._pos
            self._write(
                struct.pack(
                    "<IQHHIIQQQQ",
                    _ZIP64_EOCD_SIG,
                    44,
                    45,
                    45,
                    0,
                    0,
                    count,
                    count,
                    cd_size,
                    cd_start,
                )
            )
            self._write(struct.pack("<IIQI", _ZIP64_LOCATOR_SIG, 0, eocd64_at, 1))
        self._write(
            struct.pack(
                "<IHHHHIIH",
                _EOCD_SIG,
                0,
                0,
                min(count, 0xFFFF),
                min(count, 0xFFFF),
                min(cd_size, 0xFFFFFFFF),
                min(cd_start, 0xFFFFFFFF),
                0,
            )
        )


class StoredEntry:
    """An uncompressed zip entry being written: `write` pieces, then `close` to seal its header."""

    def __init__(self, writer: ZipWriter, entry: _Entry) -> None:
        self._writer = writer
        self._entry = entry

    def write(self, data: bytes) -> None:
        self._entry.crc = zlib.crc32(data, self._entry.crc)
        self._entry.usize += len(data)
        self._writer._write(data)

    def close(self) -> None:
        entry, writer = self._entry, self._writer
        entry.csize = entry.usize
        writer._check_size(entry)
        writer._out.seek(entry.offset + 14)
        writer._out.write(struct.pack("<III", entry.crc, entry.csize, entry.usize))
        writer._out.seek(writer._pos)
        writer._entries.append(entry)


def _name_bytes(info: zipfile.ZipInfo) -> bytes:
    if info.flag_bits & _FLAG_UTF8:
        return info.orig_filename.encode("utf-8")
    return info.orig_filename.encode("cp437")


def data_offset(info: zipfile.ZipInfo, source: BinaryIO) -> int:
    """Where an entry's compressed bytes start in the zip file (after its local header)."""
    source.seek(info.header_offset)
    header = source.read(30)
    if len(header) != 30 or struct.unpack("<I", header[:4])[0] != _LOCAL_SIG:
        raise WorkbookError(f"The workbook part {info.filename} is damaged (bad local header).")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_len + extra_len


def read_raw(info: zipfile.ZipInfo, source: BinaryIO) -> bytes:
    """An entry's compressed bytes as stored (for tests and comparisons)."""
    source.seek(data_offset(info, source))
    return source.read(info.compress_size)


# ---------------------------------------------------------------------------------------------
# Reading a package


class BasePackage:
    """An open .xlsx/.xlsm file: its entries in order, and decompressed reads by part name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.file: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed in close()
        except FileNotFoundError:
            raise WorkbookError(f"The workbook {path} does not exist.") from None
        except OSError as exc:
            raise WorkbookError(f"Cannot open the workbook {path}: {exc.strerror}.") from None
        try:
            self.zip = zipfile.ZipFile(self.file)
            self.infos = self.zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
            self.file.close()
            raise WorkbookError(
                f"{path} is not an Excel workbook (.xlsx or .xlsm) or it is damaged. "
                "Old .xls files and password-protected workbooks must be saved as .xlsx first."
            ) from None
        # OPC part names compare case-insensitively.
        self._by_lower = {i.filename.lower(): i for i in self.infos}

    def close(self) -> None:
        self.zip.close()
        self.file.close()

    def __enter__(self) -> BasePackage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def info(self, part: str) -> zipfile.ZipInfo | None:
        return self._by_lower.get(part.lower())

    def has(self, part: str) -> bool:
        return part.lower() in self._by_lower

    def read(self, part: str) -> bytes:
        info = self.info(part)
        if info is None:
            raise WorkbookError(f"The workbook {self.path} has no part {part}; it is damaged.")
        try:
            return self.zip.read(info)
        except (zipfile.BadZipFile, zlib.error, OSError) as exc:
            raise WorkbookError(
                f"The workbook {self.path} is damaged: cannot read {part} ({exc})."
            ) from None

    def read_text(self, part: str) -> str:
        data = self.read(part)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("utf-16")
            except UnicodeDecodeError:
                raise WorkbookError(
                    f"The workbook {self.path} is damaged: {part} is not readable text."
                ) from None
        return text


# ---------------------------------------------------------------------------------------------
# OPC relationships and part names


@dataclass(frozen=True)
class Relationship:
    id: str
    type: str
    target: str
    external: bool

    def type_is(self, suffix: str) -> bool:
        return self.type.endswith("/" + suffix)


def rels_part_of(part: str) -> str:
    """The relationships part of a part ("" is the package itself)."""
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def resolve_target(source_part: str, target: str) -> str:
    """The part name a relationship target points at, without a leading slash."""
    target = unquote(target.split("#", 1)[0])
    if target.startswith("/"):
        resolved = posixpath.normpath(target)
    else:
        resolved = posixpath.normpath(posixpath.join("/", posixpath.dirname(source_part), target))
    return resolved.lstrip("/")


def relative_target(source_part: str, target_part: str) -> str:
    return posixpath.relpath("/" + target_part, "/" + posixpath.dirname(source_part))


def parse_xml(text: str, what: str) -> object:
    """Parse untrusted XML (no entities, no DTD tricks) just to read it; never re-serialized."""
    try:
        return SafeET.fromstring(text.encode("utf-8"))
    except Exception as exc:
        raise WorkbookError(f"The workbook part {what} is not valid XML ({exc}).") from None


def parse_rels(text: str, what: str) -> list[Relationship]:
    parse_xml(text, what)
    rels = []
    for el in find_elements(text, "Relationship"):
        attrs = el.attrs
        if "Id" not in attrs or "Target" not in attrs:
            continue
        rels.append(
            Relationship(
                id=attrs["Id"],
                type=attrs.get("Type", ""),
                target=attrs["Target"],
                external=attrs.get("TargetMode", "Internal") == "External",
            )
        )
    return rels


# ---------------------------------------------------------------------------------------------
# String-level XML editing. We never round-trip a base part through an XML serializer: that
# renames namespace prefixes, which breaks mc:Ignorable and makes Excel "repair" the file.

_ATTR = r"""\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*')"""
_ATTR_RE = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


@dataclass(frozen=True)
class ElementSpan:
    """Where an element sits in a text: [start, end) covers it whole, open tag included."""

    start: int
    end: int
    open_end: int  # end of the opening tag
    close_start: int  # start of the closing tag (== end for a self-closing element)
    prefix: str  # "x:" or ""
    attrs: dict[str, str]
    self_closing: bool


def xml_unescape(value: str) -> str:
    value = re.sub(
        r"&#(x[0-9A-Fa-f]+|[0-9]+);",
        lambda m: chr(int(m.group(1)[1:], 16) if m.group(1)[0] == "x" else int(m.group(1))),
        value,
    )
    return _sax_unescape(value, {"&quot;": '"', "&apos;": "'"})


def xml_attr(value: str) -> str:
    """Escape text for a double-quoted attribute value."""
    return _sax_escape(value, {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def find_elements(
    text: str, local: str, start: int = 0, end: int | None = None
) -> list[ElementSpan]:
    """Elements named `local` (any prefix) in text[start:end]; they must not nest."""
    end = len(text) if end is None else end
    pattern = re.compile(rf"<((?:[\w.-]+:)?){re.escape(local)}((?:{_ATTR})*)\s*(/?)>")
    spans = []
    pos = start
    while True:
        m = pattern.search(text, pos, end)
        if m is None:
            break
        prefix = m.group(1)
        attrs = {
            a.group(1): xml_unescape(a.group(2) if a.group(2) is not None else a.group(3))
            for a in _ATTR_RE.finditer(m.group(2))
        }
        if m.group(3):
            span = ElementSpan(m.start(), m.end(), m.end(), m.end(), prefix, attrs, True)
        else:
            close = re.compile(rf"</{re.escape(prefix)}{re.escape(local)}\s*>").search(
                text, m.end(), end
            )
            if close is None:
                raise WorkbookError(f"Unclosed <{prefix}{local}> element in a workbook part.")
            span = ElementSpan(m.start(), close.end(), m.end(), close.start(), prefix, attrs, False)
        spans.append(span)
        pos = span.end
    return spans


def find_element(text: str, local: str) -> ElementSpan | None:
    found = find_elements(text, local)
    return found[0] if found else None


def set_attribute(open_tag: str, name: str, value: str) -> str:
    """Set (or add) one attribute on an opening tag string, keeping everything else."""
    pattern = re.compile(rf"""(\s{re.escape(name)}\s*=\s*)(?:"[^"]*"|'[^']*')""")
    new = f'{name}="{xml_attr(value)}"'
    if pattern.search(open_tag):
        return pattern.sub(lambda m: " " + new, open_tag, count=1)
    closer = "/>" if open_tag.endswith("/>") else ">"
    return open_tag[: -len(closer)].rstrip() + " " + new + closer


def namespace_prefix(text: str, uri: str) -> str | None:
    """The prefix a document declares for a namespace URI ("" for the default), if any."""
    m = re.search(rf"""xmlns(?::([\w.-]+))?\s*=\s*["']{re.escape(uri)}["']""", text)
    if m is None:
        return None
    return m.group(1) or ""


# ---------------------------------------------------------------------------------------------
# [Content_Types].xml


class ContentTypes:
    """Edits to [Content_Types].xml, made as text so the rest of it stays as it was."""

    def __init__(self, text: str) -> None:
        parse_xml(text, "[Content_Types].xml")
        self.text = text

    def _overrides(self) -> list[ElementSpan]:
        return find_elements(self.text, "Override")

    def defaults(self) -> dict[str, str]:
        return {
            d.attrs.get("Extension", "").lower(): d.attrs.get("ContentType", "")
            for d in find_elements(self.text, "Default")
        }

    def type_of(self, part: str) -> str | None:
        for o in self._overrides():
            if o.attrs.get("PartName", "").lstrip("/").lower() == part.lower():
                return o.attrs.get("ContentType")
        ext = posixpath.splitext(part)[1].lstrip(".").lower()
        return self.defaults().get(ext)

    def remove(self, part: str) -> None:
        for o in reversed(self._overrides()):
            if o.attrs.get("PartName", "").lstrip("/").lower() == part.lower():
                self.text = self.text[: o.start] + self.text[o.end :]

    def _append(self, element: str) -> None:
        root = find_element(self.text, "Types")
        if root is None or root.self_closing:
            raise WorkbookError("The workbook's [Content_Types].xml is damaged.")
        self.text = self.text[: root.close_start] + element + self.text[root.close_start :]

    def override(self, part: str, content_type: str) -> None:
        self.remove(part)
        prefix = self._prefix()
        self._append(
            f'<{prefix}Override PartName="/{xml_attr(part)}" '
            f'ContentType="{xml_attr(content_type)}"/>'
        )

    def ensure_default(self, extension: str, content_type: str) -> None:
        if extension.lower() not in self.defaults():
            prefix = self._prefix()
            self._append(
                f'<{prefix}Default Extension="{extension}" ContentType="{xml_attr(content_type)}"/>'
            )

    def _prefix(self) -> str:
        root = find_element(self.text, "Types")
        return root.prefix if root else ""


# ---------------------------------------------------------------------------------------------
# Relationship parts


class RelsEditor:
    """Edits to one .rels part, made as text."""

    def __init__(self, text: str | None, what: str) -> None:
        if text is None:
            text = (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<Relationships xmlns="{PKG_REL_NS}"></Relationships>'
            )
        self.rels = parse_rels(text, what)
        self.text = text
        self.changed = False

    def ids(self) -> set[str]:
        return {r.id for r in self.rels}

    def new_id(self) -> str:
        taken = self.ids()
        n = 1
        while f"rId{n}" in taken:
            n += 1
        return f"rId{n}"

    def remove(self, rel_id: str) -> None:
        for el in reversed(find_elements(self.text, "Relationship")):
            if el.attrs.get("Id") == rel_id:
                self.text = self.text[: el.start] + self.text[el.end :]
        self.rels = [r for r in self.rels if r.id != rel_id]
        self.changed = True

    def add(self, rel_type: str, target: str, rel_id: str | None = None) -> str:
        rel_id = rel_id or self.new_id()
        root = find_element(self.text, "Relationships")
        if root is None:
            raise WorkbookError("A relationships part of the workbook is damaged.")
        element = (
            f'<{root.prefix}Relationship Id="{xml_attr(rel_id)}" Type="{xml_attr(rel_type)}" '
            f'Target="{xml_attr(target)}"/>'
        )
        if root.self_closing:
            open_tag = self.text[root.start : root.end - 2].rstrip() + ">"
            self.text = (
                self.text[: root.start]
                + open_tag
                + element
                + f"</{root.prefix}Relationships>"
                + self.text[root.end :]
            )
        else:
            self.text = self.text[: root.close_start] + element + self.text[root.close_start :]
        self.rels.append(Relationship(rel_id, rel_type, target, False))
        self.changed = True
        return rel_id

    def set_type(self, rel_id: str, rel_type: str) -> None:
        for el in find_elements(self.text, "Relationship"):
            if el.attrs.get("Id") == rel_id:
                tag = self.text[el.start : el.open_end]
                self.text = (
                    self.text[: el.start]
                    + set_attribute(tag, "Type", rel_type)
                    + (self.text[el.open_end :])
                )
                break
        self.rels = [
            Relationship(r.id, rel_type, r.target, r.external) if r.id == rel_id else r
            for r in self.rels
        ]
        self.changed = True


def iter_chunks(data: bytes, size: int = _COPY_CHUNK) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]
