"""CLIP's byte-pair tokenizer, without importing torch or open_clip.

The same algorithm and vocabulary file as open_clip's `SimpleTokenizer` (from OpenAI's
CLIP, MIT licence) with its default cleaning ("lower"): ftfy, HTML unescape, collapse
whitespace, lower case. Importing open_clip costs seconds (it imports torch), so a
`photofind search` that embeds its query with the ONNX text tower tokenizes here instead;
tests/test_onnx_backend.py checks the ids against open_clip's.
"""

from __future__ import annotations

import gzip
import html
import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

SOT, EOT = "<start_of_text>", "<end_of_text>"


def bpe_file() -> Path | None:
    """open_clip's vocabulary file, found without importing open_clip."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "bpe_simple_vocab_16e6.txt.gz"
    return path if path.is_file() else None


@lru_cache
def _bytes_to_unicode() -> dict[int, str]:
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs), strict=True))


class Tokenizer:
    def __init__(self, context_length: int = 77, path: Path | None = None) -> None:
        import regex

        path = path or bpe_file()
        if path is None:
            raise FileNotFoundError("open_clip's BPE vocabulary file is not installed")
        merges = gzip.open(path).read().decode("utf-8").split("\n")[1:49152 - 256 - 2 + 1]
        pairs = [tuple(m.split()) for m in merges]
        vocab = list(_bytes_to_unicode().values())
        vocab += [v + "</w>" for v in vocab]
        vocab += ["".join(p) for p in pairs]
        vocab += [SOT, EOT]
        self.encoder = {tok: i for i, tok in enumerate(vocab)}
        self.ranks = {p: i for i, p in enumerate(pairs)}
        self.cache = {SOT: SOT, EOT: EOT}
        self.pattern = regex.compile(
            rf"{SOT}|{EOT}|'s|'t|'re|'ve|'m|'ll|'d|[\p{{L}}]+|[\p{{N}}]|[^\s\p{{L}}\p{{N}}]+",
            regex.IGNORECASE)
        self.context_length = context_length
        self.byte_encoder = _bytes_to_unicode()

    def _bpe(self, token: str) -> str:
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = {(a, b) for a, b in zip(word, word[1:], strict=False)}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = tuple(merged)
        result = " ".join(word)
        self.cache[token] = result
        return result

    def encode(self, text: str) -> list[int]:
        import ftfy

        text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
        text = " ".join(text.split()).strip().lower()
        ids = []
        for token in self.pattern.findall(text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self._bpe(token).split(" "))
        return ids

    def __call__(self, texts: list[str]) -> np.ndarray:
        """(len(texts), context_length) int64 ids: SOT, tokens (cut to fit), EOT, zeros."""
        out = np.zeros((len(texts), self.context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.encoder[SOT], *self.encode(text), self.encoder[EOT]]
            if len(ids) > self.context_length:
                ids = ids[:self.context_length]
                ids[-1] = self.encoder[EOT]
            out[row, :len(ids)] = ids
        return out


def words_that_fit(encode, context_length: int, text: str) -> tuple[int, int] | None:
    """When `text` has more tokens than the text tower reads (`context_length`, less its
    start and end tokens), (how many of its words fit whole, how many words it has);
    None when all of it is read. `encode`: the tokenizer's text → ids, without SOT/EOT."""
    words = text.split()
    room = context_length - 2
    used = 0
    for n, word in enumerate(words):
        used += len(encode(word))
        if used > room:
            return n, len(words)
    return None
