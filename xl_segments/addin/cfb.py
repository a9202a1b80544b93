"""Write a Compound File Binary container (version 3, 512-byte sectors), per [MS-CFB].

Implemented from the Microsoft Open Specification [MS-CFB]: the header (2.2), the FAT
(2.3) with its sectors listed in the header's DIFAT array (2.5), the mini FAT and mini
stream for streams shorter than the 4096-byte cutoff (2.4), and the directory (2.6) whose
entries (2.6.1) form, per storage, a red-black tree ordered as 2.6.4 requires: shorter
names first, names of equal length by their upper-case UTF-16 code points.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["build_compound_file", "compare_key"]

SECTOR_SIZE = 512  # version 3: sector shift 9 (2.2)
MINI_SECTOR_SIZE = 64  # mini sector shift 6 (2.2)
MINI_STREAM_CUTOFF = 4096  # streams shorter than this live in the mini stream (2.2)
DIR_ENTRY_SIZE = 128
HEADER_DIFAT_ENTRIES = 109  # FAT sector numbers held in the header itself (2.2)

# Special sector numbers (2.1)
DIFSECT = 0xFFFFFFFC
FATSECT = 0xFFFFFFFD
ENDOFCHAIN = 0xFFFFFFFE
FREESECT = 0xFFFFFFFF
NOSTREAM = 0xFFFFFFFF  # "no sibling/child" in a directory entry (2.6.1)

# Object types and colours of directory entries (2.6.1)
_UNALLOCATED, _STORAGE, _STREAM, _ROOT = 0x00, 0x01, 0x02, 0x05
_RED, _BLACK = 0x00, 0x01

_SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")
_ENTRY = struct.Struct("<64sHBBIII16sIQQIQ")  # one 128-byte directory entry (2.6.1)
_FORBIDDEN_IN_NAMES = set("/\\:!")  # 2.6.1: these characters are illegal in entry names


def compare_key(name: str) -> tuple[int, list[int]]:
    """Sort key of a directory entry name among its siblings (2.6.4).

    Shorter names sort first; names of equal length compare by the code points of their
    upper-case forms (UTF-16 code units: every name we write is in the Basic Multilingual
    Plane, so code points and code units agree).
    """
    return len(name.encode("utf-16-le")) // 2, [ord(c) for c in name.upper()]


@dataclass
class _Entry:
    name: str
    kind: int
    data: bytes = b""
    children: dict[str, _Entry] = field(default_factory=dict)
    sid: int = 0
    left: int = NOSTREAM
    right: int = NOSTREAM
    child: int = NOSTREAM
    color: int = _BLACK
    start: int = ENDOFCHAIN
    size: int = 0


def _check_name(name: str) -> None:
    if not name or len(name) > 31:
        raise ValueError(f"entry name {name!r} must have 1 to 31 characters")
    if _FORBIDDEN_IN_NAMES & set(name) or any(ord(c) < 0x20 for c in name):
        raise ValueError(f"entry name {name!r} contains a character CFB forbids")
    if any(ord(c) > 0xFFFF for c in name):
        raise ValueError(f"entry name {name!r} has a character outside the BMP")


def _tree(streams: Mapping[str, bytes]) -> _Entry:
    """The storage hierarchy named by slash-separated paths; storages are implicit."""
    root = _Entry("Root Entry", _ROOT)
    for path, data in streams.items():
        parts = path.split("/")
        node = root
        for part in parts[:-1]:
            _check_name(part)
            key = part.upper()  # names are unique case-insensitively within a storage
            existing = node.children.get(key)
            if existing is None:
                # A storage's starting sector and size MUST be zero (2.6.3).
                existing = node.children[key] = _Entry(part, _STORAGE, start=0)
            elif existing.kind != _STORAGE:
                raise ValueError(f"{path!r}: {part!r} is a stream, not a storage")
            node = existing
        leaf = parts[-1]
        _check_name(leaf)
        if leaf.upper() in node.children:
            raise ValueError(f"{path!r}: an entry of that name (ignoring case) already exists")
        node.children[leaf.upper()] = _Entry(leaf, _STREAM, data=bytes(data))
    return root


def _number(root: _Entry) -> list[_Entry]:
    """All entries in directory order: the root is entry 0, then depth first."""
    entries: list[_Entry] = []

    def visit(entry: _Entry) -> None:
        entry.sid = len(entries)
        entries.append(entry)
        for child in sorted(entry.children.values(), key=lambda e: compare_key(e.name)):
            visit(child)

    visit(root)
    return entries


def _link_siblings(storage: _Entry) -> None:
    """Make each storage's children a balanced binary search tree, coloured red-black.

    Splitting the sorted siblings at the middle, recursively, puts every empty (leaf)
    position at depth h or h + 1. Colouring the nodes of the deepest level red when that
    level is not full, and all others black, then satisfies 2.6.4: a black root, no red
    node with a red parent or child, and the same number of black nodes on every path.
    """
    children = sorted(storage.children.values(), key=lambda e: compare_key(e.name))
    count = len(children)
    if count:
        depths: dict[int, int] = {}

        def build(low: int, high: int, depth: int) -> int:
            if low >= high:
                return NOSTREAM
            middle = (low + high) // 2
            node = children[middle]
            depths[middle] = depth
            node.left = build(low, middle, depth + 1)
            node.right = build(middle + 1, high, depth + 1)
            return node.sid

        storage.child = build(0, count, 0)
        deepest = max(depths.values())
        full = (count + 1) & count == 0  # a perfect tree: 1, 3, 7, 15... nodes
        for index, node in enumerate(children):
            node.color = _RED if (not full and depths[index] == deepest) else _BLACK
    for child in children:
        if child.kind == _STORAGE:
            _link_siblings(child)


def _sectors(size: int, unit: int) -> int:
    return -(-size // unit)


def _chain(table: list[int], first: int, count: int) -> None:
    """Link ``count`` consecutive sectors from ``first`` in an allocation table."""
    for i in range(first, first + count - 1):
        table[i] = i + 1
    table[first + count - 1] = ENDOFCHAIN


def _pack_entry(entry: _Entry) -> bytes:
    name = (entry.name + "\x00").encode("utf-16-le")
    return _ENTRY.pack(
        name.ljust(64, b"\x00"),
        len(name),  # name length in bytes, including the terminating null
        entry.kind,
        entry.color,
        entry.left,
        entry.right,
        entry.child,
        bytes(16),  # CLSID: none of our storages has one
        0,  # state bits
        0,  # creation time: MUST be 0 for the root and for streams
        0,  # modified time: likewise, and optional for storages
        entry.start,
        entry.size,
    )


_UNUSED_ENTRY = _ENTRY.pack(
    bytes(64), 0, _UNALLOCATED, _RED, NOSTREAM, NOSTREAM, NOSTREAM, bytes(16), 0, 0, 0, 0, 0
)


def build_compound_file(streams: Mapping[str, bytes]) -> bytes:
    """A version-3 compound file holding ``streams``, keyed by slash-separated paths.

    ``{"PROJECT": b"...", "VBA/dir": b"..."}`` gives a root storage with a stream PROJECT
    and a storage VBA holding a stream dir. Storages are created for every path prefix.
    """
    root = _tree(streams)
    entries = _number(root)
    _link_siblings(root)
    stream_entries = [e for e in entries if e.kind == _STREAM]

    # Streams below the cutoff go to the mini stream, 64 bytes a mini sector (2.4).
    mini_fat: list[int] = []
    mini_stream = bytearray()
    for entry in stream_entries:
        entry.size = len(entry.data)
        if 0 < entry.size < MINI_STREAM_CUTOFF:
            count = _sectors(entry.size, MINI_SECTOR_SIZE)
            entry.start = len(mini_fat)
            mini_fat += [FREESECT] * count
            _chain(mini_fat, entry.start, count)
            mini_stream += entry.data.ljust(count * MINI_SECTOR_SIZE, b"\x00")

    big = [e for e in stream_entries if e.size >= MINI_STREAM_CUTOFF]
    dir_sectors = _sectors(len(entries) * DIR_ENTRY_SIZE, SECTOR_SIZE)
    mini_fat_sectors = _sectors(len(mini_fat) * 4, SECTOR_SIZE)
    mini_stream_sectors = _sectors(len(mini_stream), SECTOR_SIZE)
    other = (
        dir_sectors
        + mini_fat_sectors
        + mini_stream_sectors
        + sum(_sectors(e.size, SECTOR_SIZE) for e in big)
    )
    # The FAT must also cover its own sectors: find the smallest count that does.
    fat_sectors = 1
    while fat_sectors * (SECTOR_SIZE // 4) < other + fat_sectors:
        fat_sectors += 1
    if fat_sectors > HEADER_DIFAT_ENTRIES:
        raise ValueError("compound file too large: more than 109 FAT sectors needs a DIFAT")

    # Layout: FAT sectors, directory, mini FAT, mini stream, then each large stream.
    fat = [FREESECT] * (fat_sectors * (SECTOR_SIZE // 4))
    for i in range(fat_sectors):
        fat[i] = FATSECT
    next_sector = fat_sectors

    def allocate(count: int) -> int:
        nonlocal next_sector
        if count == 0:
            return ENDOFCHAIN
        first = next_sector
        _chain(fat, first, count)
        next_sector += count
        return first

    first_dir = allocate(dir_sectors)
    first_mini_fat = allocate(mini_fat_sectors)
    root.start = allocate(mini_stream_sectors)
    root.size = len(mini_stream)
    body: list[bytes] = []
    for entry in big:
        entry.start = allocate(_sectors(entry.size, SECTOR_SIZE))

    def padded(data: bytes) -> bytes:
        return data.ljust(_sectors(len(data), SECTOR_SIZE) * SECTOR_SIZE, b"\x00")

    directory = b"".join(_pack_entry(e) for e in entries)
    directory += _UNUSED_ENTRY * ((-len(entries)) % (SECTOR_SIZE // DIR_ENTRY_SIZE))
    body.append(b"".join(struct.pack("<I", n) for n in fat))
    body.append(directory)
    mini_fat_bytes = b"".join(struct.pack("<I", n) for n in mini_fat)
    body.append(mini_fat_bytes.ljust(mini_fat_sectors * SECTOR_SIZE, b"\xff"))
    body.append(padded(bytes(mini_stream)))
    body.extend(padded(e.data) for e in big)

    difat = list(range(fat_sectors)) + [FREESECT] * (HEADER_DIFAT_ENTRIES - fat_sectors)
    header = (
        _SIGNATURE
        + bytes(16)  # header CLSID: MUST be zero
        + struct.pack(
            "<HHHHH6xIIIIIIIII",
            0x003E,  # minor version
            0x0003,  # major version 3: 512-byte sectors
            0xFFFE,  # byte order mark: little-endian
            9,  # sector shift: 2**9 = 512
            6,  # mini sector shift: 2**6 = 64
            0,  # number of directory sectors: MUST be 0 in version 3
            fat_sectors,
            first_dir,
            0,  # transaction signature: unused
            MINI_STREAM_CUTOFF,
            first_mini_fat,
            mini_fat_sectors,
            ENDOFCHAIN,  # first DIFAT sector: none, the header's 109 entries suffice
            0,  # number of DIFAT sectors
        )
        + b"".join(struct.pack("<I", n) for n in difat)
    )
    assert len(header) == SECTOR_SIZE
    return header + b"".join(body)
