"""[MS-OVBA] compression (2.4.1) and data encryption (2.4.3) against the specification."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from xl_segments.addin.ovba import compress, decompress, decrypt, encrypt

# [MS-OVBA] 3.2.1 No Compression, 3.2.2 Normal Compression, 3.2.3 Maximum Compression:
# the example strings and the compressed bytes the specification publishes for them.
SPEC_EXAMPLES = {
    "3.2.1": (
        b"abcdefghijklmnopqrstuv.",
        "01 19 B0 00 61 62 63 64 65 66 67 68 00 69 6A 6B 6C 6D 6E 6F 70 00 71 72 73 74 75 76 2E",
    ),
    "3.2.2": (
        b"#aaabcdefaaaaghijaaaaaklaaamnopqaaaaaaaaaaaarstuvwxyzaaa",
        "01 2F B0 00 23 61 61 61 62 63 64 65 82 66 00 70 61 67 68 69 6A 01 38 08 61 6B 6C 00"
        " 20 6D 6E 6F 70 06 71 02 70 04 00 72 73 74 75 76 10 77 78 79 7A 00 2C",
    ),
    "3.2.3": (b"a" * 73, "01 03 B0 02 61 45 00"),
}

# [MS-OVBA] 3.1.6 PROJECT Stream Example: its project id and encrypted values.
SPEC_PROJECT_ID = "{917DED54-440B-4FD1-A5C1-74ACF261E600}"
SPEC_CMG = "0705D8E3D8EDDBF1DBF1DBF1DBF1"
SPEC_DPB = "0E0CD1ECDFF4E7F5E7F5E7"
SPEC_GC = "1517CAF1D6F9D7F9D706"


@pytest.mark.parametrize("section", sorted(SPEC_EXAMPLES))
def test_compress_gives_the_published_bytes(section: str) -> None:
    text, published = SPEC_EXAMPLES[section]
    assert compress(text) == bytes.fromhex(published)


@pytest.mark.parametrize("section", sorted(SPEC_EXAMPLES))
def test_decompress_inverts_the_published_bytes(section: str) -> None:
    text, published = SPEC_EXAMPLES[section]
    assert decompress(bytes.fromhex(published)) == text


def _spec_compress(data: bytes) -> bytes:
    """A literal, slow transcription of 2.4.1.3.6-2.4.1.3.19.4 to check the fast encoder.

    Exhaustive matching from the nearest candidate back to the chunk start, replacing the
    best only when strictly longer, exactly as the pseudocode does.
    """
    out = bytearray([0x01])
    for chunk_start in range(0, len(data), 4096):
        end = min(chunk_start + 4096, len(data))
        body = bytearray()
        current = chunk_start
        while current < end:
            flag_at = len(body)
            body.append(0)
            for bit in range(8):
                if current >= end:
                    break
                best_length, best_candidate = 0, 0
                for candidate in range(current - 1, chunk_start - 1, -1):
                    c, d, length = candidate, current, 0
                    while d < end and data[d] == data[c]:
                        length, c, d = length + 1, c + 1, d + 1
                    if length > best_length:
                        best_length, best_candidate = length, candidate
                if best_length >= 3:
                    difference = current - chunk_start
                    bit_count = max((difference - 1).bit_length(), 4)
                    length = min(best_length, (0xFFFF >> bit_count) + 3)
                    offset = current - best_candidate
                    body += struct.pack("<H", ((offset - 1) << (16 - bit_count)) | (length - 3))
                    body[flag_at] |= 1 << bit
                    current += length
                else:
                    body.append(data[current])
                    current += 1
        if len(body) <= 4096:
            out += struct.pack("<H", 0xB000 | (len(body) - 1)) + body
        else:
            out += struct.pack("<H", 0x3FFF) + data[chunk_start:end].ljust(4096, b"\x00")
    return bytes(out)


# Small alphabets make long, overlapping and tied matches: the hard cases for an encoder.
_repetitive = st.lists(st.sampled_from([b"a", b"b", b"ab", b"abc", b"\r\n", b"End Sub"])).map(
    b"".join
)


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.binary(max_size=600), _repetitive))
def test_compress_matches_the_specification_pseudocode(data: bytes) -> None:
    assert compress(data) == _spec_compress(data)


_VBA_SAMPLE = b"".join(
    b'Function F%d(x As Variant) As Variant\r\n    F%d = Application.Run("m%d", x)\r\n'
    b"End Function\r\n\r\n" % (i, i, i % 7)
    for i in range(100)  # about 9000 bytes: three chunks
)


@pytest.mark.parametrize(
    "data",
    [
        _VBA_SAMPLE,
        b"ab" * 700,
        bytes(range(256)) * 5,
        random.Random(3).choices(b"abc", k=1500),
    ],
    ids=["vba", "period-2", "period-256", "three-letters"],
)
def test_compress_matches_the_pseudocode_on_longer_inputs(data: bytes | list[int]) -> None:
    assert compress(bytes(data)) == _spec_compress(bytes(data))


def _chunks(container: bytes) -> list[tuple[bool, int]]:
    """(compressed?, chunk size) of each chunk of a container, read from its headers."""
    chunks, position = [], 1
    while position < len(container):
        (header,) = struct.unpack_from("<H", container, position)
        assert (header >> 12) & 0b111 == 0b011
        size = (header & 0x0FFF) + 3
        chunks.append((bool(header & 0x8000), size))
        position += size
    assert position == len(container)
    return chunks


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
@example(b"")
@example(b"\x00")
def test_round_trip_of_arbitrary_short_bytes(data: bytes) -> None:
    # Up to 3640 bytes always fit a compressed chunk, so the round trip is exact.
    assert decompress(compress(data)) == data


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=3500, max_size=9000))
def test_round_trip_of_arbitrary_longer_bytes(data: bytes) -> None:
    out = decompress(compress(data))
    # Exact, except that a raw (incompressible) last chunk comes back zero-padded to 4096
    # bytes, as 2.4.1.3.10 prescribes.
    assert out[: len(data)] == data
    assert out[len(data) :] == bytes(len(out) - len(data))
    last_compressed, _ = _chunks(compress(data))[-1]
    assert len(out) == len(data) or not last_compressed


_SIZES = [4095, 4096, 4097, 8191, 8192, 8193, 12289]


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(_SIZES).flatmap(
        lambda n: st.tuples(st.just(n), st.binary(min_size=1, max_size=64), st.integers(0, 2**32))
    )
)
def test_round_trip_around_chunk_boundaries(case: tuple[int, bytes, int]) -> None:
    size, pattern, seed = case
    rng = random.Random(seed)
    # Text-like data: a repeated pattern with random edits, crossing 4096-byte chunks.
    data = bytearray((pattern * (size // len(pattern) + 1))[:size])
    for _ in range(rng.randrange(0, 50)):
        data[rng.randrange(size)] = rng.randrange(256)
    container = compress(bytes(data))
    assert decompress(container) == data
    assert [size for _, size in _chunks(container)] and all(
        size <= 4098 for _, size in _chunks(container)
    )


@pytest.mark.parametrize("length", [3, 4, 18, 19, 4095, 4096, 4097, 8192, 8195, 100_000])
def test_long_runs(length: int) -> None:
    data = b"x" * length
    container = compress(data)
    assert decompress(container) == data
    # A run costs a handful of bytes per chunk, whatever its length.
    assert len(container) <= 1 + 8 * (length // 4096 + 1)


def test_incompressible_chunk_is_stored_raw() -> None:
    data = random.Random(1).randbytes(4096 * 2 + 100)
    container = compress(data)
    chunks = _chunks(container)
    assert chunks[0] == (False, 4098) and chunks[1] == (False, 4098)
    assert chunks[2][0] is True  # 100 bytes always fit a compressed chunk
    assert decompress(container) == data


def test_short_incompressible_last_chunk_is_padded_as_the_specification_says() -> None:
    # 2.4.1.3.10 pads a raw chunk to 4096 bytes, and a raw chunk always decompresses to
    # 4096 bytes: the only case where the round trip adds (zero) bytes.
    data = random.Random(2).randbytes(3700)
    out = decompress(compress(data))
    assert out[: len(data)] == data and out[len(data) :] == bytes(4096 - len(data))


def test_source_text_compresses() -> None:
    text = b"".join(b"Sub P%d()\r\n    Debug.Print %d\r\nEnd Sub\r\n" % (i, i) for i in range(500))
    container = compress(text)
    assert all(compressed for compressed, _ in _chunks(container))
    assert len(container) < len(text) // 2
    assert decompress(container) == text


@pytest.mark.parametrize(
    ("container", "message"),
    [
        (b"", "0x01"),
        (b"\x02\x00\xb0\x00a", "0x01"),
        (b"\x01\x00\xa0\x00a", "signature"),
        (b"\x01\x03\xb0\x02a\x45", "truncated copy token"),
        (b"\x01\x02\xb0\x01\x00\x00", "before its chunk"),
    ],
)
def test_decompress_rejects_malformed_containers(container: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decompress(container)


# --- 2.4.3 data encryption ------------------------------------------------------------


@pytest.mark.parametrize(
    ("encrypted", "plain"),
    [(SPEC_CMG, b"\x00\x00\x00\x00"), (SPEC_DPB, b"\x00"), (SPEC_GC, b"\xff")],
)
def test_decrypt_the_specification_example(encrypted: str, plain: bytes) -> None:
    # Passing the project id also checks our ProjKey (the id's byte sum) against the example.
    assert decrypt(bytes.fromhex(encrypted), SPEC_PROJECT_ID) == plain


@pytest.mark.parametrize("published", [SPEC_CMG, SPEC_DPB, SPEC_GC])
def test_encrypt_reproduces_the_specification_example(published: str) -> None:
    target = bytes.fromhex(published)
    plain = decrypt(target)
    seed = target[0]
    # IgnoredEnc holds arbitrary bytes; find the ones the example used, one at a time.
    ignored = b""
    for _ in range((seed & 6) // 2):
        for candidate in range(256):
            trial = ignored + bytes([candidate])
            padded = trial.ljust((seed & 6) // 2, b"\x00")
            if (
                encrypt(plain, SPEC_PROJECT_ID, seed, padded)[3 + len(ignored)]
                == target[3 + len(ignored)]
            ):
                ignored = trial
                break
    assert encrypt(plain, SPEC_PROJECT_ID, seed, ignored) == target


@given(st.binary(max_size=40), st.integers(0, 255))
def test_encrypt_round_trip(data: bytes, seed: int) -> None:
    encrypted = encrypt(data, SPEC_PROJECT_ID, seed)
    assert len(encrypted) == 3 + (seed & 6) // 2 + 4 + len(data)
    assert decrypt(encrypted, SPEC_PROJECT_ID) == data


def test_decrypt_checks_the_project_id() -> None:
    with pytest.raises(ValueError, match="another project"):
        decrypt(bytes.fromhex(SPEC_GC), "{00000000-0000-0000-0000-000000000000}")


def test_encrypt_rejects_a_wrong_number_of_ignored_bytes() -> None:
    with pytest.raises(ValueError, match="ignored bytes"):
        encrypt(b"\x00", SPEC_PROJECT_ID, seed=0x06, ignored=b"")
