"""Text encoders: a vocabulary -> ``TextEmbeddings``, and their group ``text/<vocab>/`` in the store.

- ``openclip``: the text tower of the same open_clip model as the image source; each class is
  embedded with every prompt template, L2-normalised, averaged over the templates (an ensemble when
  there are several) and normalised again.
- ``hashed``: a deterministic unit vector per class name drawn from a hash of the name (no weights):
  a benchmark tool for machines without a real 2D model; the simulated source's default.
"""

from __future__ import annotations

import hashlib

import numpy as np

from geopurify.pipeline.errors import ConfigError, StoreError
from geopurify.pipeline.fingerprint import digest
from geopurify.pipeline.vocabulary import EMBEDDINGS, FUSED, TEXT, scene_group, text_group
from geopurify.stages.labelsets import vocabulary

from .config import FuseConfig
from .sources.base import TextEmbeddings

TEXT_ENCODERS = ("openclip", "hashed")
HASHED_VERSION = 1


def resolve_text_encoder(cfg: FuseConfig) -> str:
    """The text encoder kind in use: ``auto`` means hashed for the simulated source, else openclip."""
    kind = cfg.text_encoder_kind()
    if kind not in TEXT_ENCODERS:
        raise ConfigError(f"fuse.text_encoder {kind!r}: expected auto, {', '.join(TEXT_ENCODERS)}")
    return kind


def hashed_embeddings(names: list[str], dim: int) -> np.ndarray:
    """(C, dim) float32 unit rows; row c depends only on ``names[c]`` and ``dim``."""
    if dim < 1:
        raise ConfigError(f"fuse.hashed_dim = {dim}: expected >= 1")
    rows = []
    for name in names:
        seed = int.from_bytes(hashlib.sha256(f"geopurify-hashed-text:{name}".encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(dim)
        rows.append(v / np.linalg.norm(v))
    return np.asarray(rows, dtype=np.float32)


def text_identity(cfg: FuseConfig) -> dict:
    """JSON-able identity of the text encoder in use (cheap: hashes a checkpoint, loads nothing)."""
    kind = resolve_text_encoder(cfg)
    if kind == "hashed":
        return {"kind": "hashed", "version": HASHED_VERSION, "dim": cfg.hashed_dim}
    from .sources.openclip import weights_identity

    return {"kind": "openclip", "model": cfg.openclip.model, "weights": weights_identity(cfg.openclip),
            "templates": list(cfg.openclip.templates)}


def text_fingerprint(cfg: FuseConfig) -> str:
    ids, names = vocabulary(cfg.vocab)
    return digest({"vocab": cfg.vocab, "ids": ids, "names": names, "encoder": text_identity(cfg)})


def encode_vocab(cfg: FuseConfig) -> TextEmbeddings:
    """Embed the configured vocabulary with the configured text encoder."""
    ids, names = vocabulary(cfg.vocab)
    kind = resolve_text_encoder(cfg)
    if kind == "hashed":
        emb = hashed_embeddings(names, cfg.hashed_dim)
    else:
        from .sources.openclip import encode_texts

        emb = encode_texts(cfg.openclip, names)
    return TextEmbeddings(vocab=cfg.vocab, nyu40_ids=np.asarray(ids, dtype=np.int16), names=names,
                          embeddings=emb, encoder=text_identity(cfg))


def write_text(store, text: TextEmbeddings, fingerprint: str) -> None:
    store.write_group(text_group(text.vocab), {EMBEDDINGS: text.embeddings.astype(np.float32)}, {
        "stage": TEXT, "vocab": text.vocab, "names": list(text.names),
        "nyu40_ids": [int(i) for i in text.nyu40_ids], "encoder": text.encoder, "fingerprint": fingerprint,
    })


def read_text(store, vocab: str) -> tuple[TextEmbeddings, str]:
    """The stored embeddings of ``vocab`` and their fingerprint; StoreError when missing."""
    path = text_group(vocab)
    attrs = store.require_done(path, f"text embeddings of {vocab!r}")
    emb = store.read(path, EMBEDDINGS).astype(np.float32)
    text = TextEmbeddings(vocab=vocab, nyu40_ids=np.asarray(attrs["nyu40_ids"], dtype=np.int16),
                          names=list(attrs["names"]), embeddings=emb, encoder=attrs["encoder"])
    return text, attrs["fingerprint"]


def prepare_text(store, cfg: FuseConfig) -> TextEmbeddings:
    """Write ``text/<vocab>/`` unless it is already done with the current encoder; return it."""
    fp = text_fingerprint(cfg)
    if store.is_done(text_group(cfg.vocab), fp):
        return read_text(store, cfg.vocab)[0]
    text = encode_vocab(cfg)
    write_text(store, text, fp)
    return text


def require_current_text(store, cfg: FuseConfig) -> tuple[TextEmbeddings, str]:
    """The stored text embeddings, checked to be the ones the current config makes."""
    text, fp = read_text(store, cfg.vocab)
    if fp != text_fingerprint(cfg):
        raise StoreError(f"{store.path}/{text_group(cfg.vocab)}: made by another text encoder "
                         f"({text.encoder.get('kind')}); run the fuse stage to rewrite it")
    return text, fp


def fused_vocab(store, scene_id: str, default: str | None = None) -> str:
    """The vocabulary a scene's fused features were made with: the one its fuse stage recorded, else
    ``default``, else the store's only text group (a StoreError when it holds several or none)."""
    attrs = store.attrs(scene_group(scene_id, FUSED))
    vocab = (attrs.get("config") or {}).get("fuse", {}).get("vocab")
    if vocab:
        return vocab
    if default is not None:
        return default
    text = store.group(TEXT)
    names = sorted(text.group_keys()) if text is not None else []
    if len(names) != 1:
        raise StoreError(f"{store.path}/text: cannot tell which vocabulary the fused features of "
                         f"{scene_id} use (found {names or 'none'}); pass vocab=")
    return names[0]
