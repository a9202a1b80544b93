"""[MS-CFB] compound files we write, read back by olefile (an independent reader)."""

from __future__ import annotations

import io
import struct

import olefile
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xl_segments.addin.cfb import NOSTREAM, build_compound_file, compare_key


def _open(data: bytes) -> olefile.OleFileIO:
    # DEFECT_INCORRECT: olefile raises on anything the specification calls incorrect,
    # instead of logging it and carrying on.
    return olefile.OleFileIO(io.BytesIO(data), raise_defects=olefile.DEFECT_INCORRECT)


def _read_all(data: bytes) -> dict[str, bytes]:
    ole = _open(data)
    return {"/".join(path): ole.openstream(path).read() for path in ole.listdir(streams=True)}


def _check_red_black_trees(ole: olefile.OleFileIO) -> None:
    """Every storage's children form a binary search tree in 2.6.4 order, red-black valid."""
    entries = ole.direntries

    def black_height(sid: int, parent_red: bool, low: object, high: object) -> int:
        if sid == NOSTREAM:
            return 1
        entry = entries[sid]
        key = compare_key(entry.name)
        assert low is None or low < key, f"{entry.name} out of order"
        assert high is None or key < high, f"{entry.name} out of order"
        red = entry.color == 0
        assert not (red and parent_red), f"red {entry.name} has a red parent"
        left = black_height(entry.sid_left, red, low, key)
        right = black_height(entry.sid_right, red, key, high)
        assert left == right, f"unequal black heights below {entry.name}"
        return left + (0 if red else 1)

    for entry in entries:
        if entry is None or entry.entry_type not in (olefile.STGTY_STORAGE, olefile.STGTY_ROOT):
            continue
        if entry.sid_child != NOSTREAM:
            assert entries[entry.sid_child].color == 1, "tree root must be black"
            black_height(entry.sid_child, False, None, None)


def test_header_fields() -> None:
    data = build_compound_file({"a": b"x"})
    assert data[:8] == bytes.fromhex("D0CF11E0A1B11AE1")
    assert data[8:24] == bytes(16)
    minor, major, order, shift, mini_shift = struct.unpack_from("<HHHHH", data, 24)
    assert (minor, major, order, shift, mini_shift) == (0x3E, 3, 0xFFFE, 9, 6)
    dir_sectors, fat_sectors, _, _, cutoff = struct.unpack_from("<IIIII", data, 40)
    assert (dir_sectors, fat_sectors, cutoff) == (0, 1, 4096)
    assert len(data) % 512 == 0


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 4095, 4096, 4097, 70_000])
def test_stream_sizes_around_the_mini_stream_cutoff(size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    data = build_compound_file({"S": payload, "small": b"abc"})
    assert _read_all(data) == {"S": payload, "small": b"abc"}


def test_storages_and_streams_as_a_vba_project_lays_them_out() -> None:
    streams = {
        "PROJECT": b"ID=...",
        "PROJECTwm": b"wm",
        "VBA/_VBA_PROJECT": b"\xcc\x61\xff\xff\x00\x01\x00",
        "VBA/dir": b"d" * 700,
        "VBA/Module1": b"m" * 5000,
        "VBA/ThisWorkbook": b"t" * 300,
    }
    data = build_compound_file(streams)
    ole = _open(data)
    assert sorted(ole.listdir(streams=True, storages=True)) == sorted(
        [path.split("/") for path in streams] + [["VBA"]]
    )
    assert ole.get_type("VBA") == olefile.STGTY_STORAGE
    assert _read_all(data) == streams
    _check_red_black_trees(ole)
    for entry in ole.direntries:
        if entry is not None:
            assert entry.clsid == ""  # all-zero CLSIDs
            assert entry.createTime == entry.modifyTime == 0


def test_several_fat_sectors_and_directory_sectors() -> None:
    # 300 KB in large streams needs 600 sectors, so five FAT sectors (128 entries each);
    # 40 entries need ten directory sectors (four entries each); 30 small streams fill
    # two mini FAT sectors' worth of chains spread over a multi-sector mini stream.
    streams = {f"big{i}": bytes([i]) * 100_000 for i in range(3)}
    streams |= {f"S{i // 10}/small{i}": bytes([i]) * (i * 100 + 1) for i in range(30)}
    streams |= {f"S{i}/x": b"x" for i in range(4)}
    data = build_compound_file(streams)
    fat_sectors, first_dir = struct.unpack_from("<II", data, 44)
    assert fat_sectors >= 5
    entry_count = 1 + len(streams) + 4  # root, streams, storages S0..S3
    assert entry_count > 4 * 3
    ole = _open(data)
    assert len(ole.direntries) >= entry_count
    assert _read_all(data) == streams
    _check_red_black_trees(ole)
    # The directory chain really spans several sectors.
    assert len(ole.fat) >= 5 * 128
    chain, sector = [], first_dir
    while sector != 0xFFFFFFFE:
        chain.append(sector)
        sector = ole.fat[sector]
    assert len(chain) == -(-entry_count // 4)


def test_sibling_order_is_length_then_upper_case() -> None:
    names = ["dir", "Module1", "_VBA_PROJECT", "ThisWorkbook", "a", "B", "ab", "Zz", "zzz"]
    ordered = sorted(names, key=compare_key)
    assert ordered == [
        "a",
        "B",
        "ab",
        "Zz",
        "dir",
        "zzz",
        "Module1",
        "ThisWorkbook",
        "_VBA_PROJECT",
    ]
    ole = _open(build_compound_file({name: b"." for name in names}))
    _check_red_black_trees(ole)


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.text(
            st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/\\:!"),
            min_size=1,
            max_size=31,
        ),
        st.integers(0, 9000).map(lambda n: bytes([n % 256]) * n),
        max_size=40,
    )
)
def test_any_set_of_streams_reads_back(streams: dict[str, bytes]) -> None:
    unique: dict[str, bytes] = {}
    for name, payload in streams.items():
        if name.upper() not in {n.upper() for n in unique}:
            unique[name] = payload
    data = build_compound_file(unique)
    assert _read_all(data) == unique
    _check_red_black_trees(_open(data))


@pytest.mark.parametrize(
    ("streams", "message"),
    [
        ({"x" * 32: b""}, "1 to 31"),
        ({"a:b": b""}, "forbids"),
        ({"A": b"", "a": b""}, "already exists"),
        ({"A": b"", "A/b": b""}, "not a storage"),
    ],
)
def test_invalid_names_are_rejected(streams: dict[str, bytes], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_compound_file(streams)
