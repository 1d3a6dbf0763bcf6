"""The course's word vectors, trained once and kept (notebook 05, section 10; read again by notebooks 07 and 09).

:func:`course_vectors` returns SGNS vectors trained with :data:`~utils.word2vec.settings.COURSE_SETTINGS` on
``wordnet.gloss_corpus()``: from memory after the first call in a kernel, else from ``data/cache/`` (or the folder
named by the environment variable ``COURSE_CACHE_DIR``), else by training and saving them.

The file name holds the first 10 hex digits of the SHA-1 of ``COURSE_SETTINGS`` as sorted-key JSON, so changing a
setting trains again instead of reading vectors made with other settings:

>>> _cache_path(COURSE_SETTINGS).name
'sgns_wordnet_766d4b5a68.npz'
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from utils.word2vec.settings import COURSE_SETTINGS
from utils.word2vec.sgns import train_sgns
from utils.word2vec.word_vectors import WordVectors

# COURSE_CACHE_DIR moves the cache (the portability runs use a fresh one per simulated machine)
CACHE_DIR = Path(os.environ.get("COURSE_CACHE_DIR")
                 or Path(__file__).resolve().parent.parent.parent / "data" / "cache")  # <repo>/data/cache


def _cache_path(settings: dict) -> Path:
    key = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    return CACHE_DIR / f"sgns_wordnet_{key}.npz"


_COURSE: dict = {}


def course_vectors(progress: bool = False) -> WordVectors:
    """SGNS vectors of notebook 05's settings (:data:`COURSE_SETTINGS`) on ``wordnet.gloss_corpus()``.

    Cached once per kernel and on disk in ``data/cache/`` (git-ignored); when the file is missing it is re-created by
    training again on the CPU (~15 s on 2 idle cores), deterministic with the fixed seed.
    """
    if "wv" in _COURSE:
        return _COURSE["wv"]
    path = _cache_path(COURSE_SETTINGS)
    if path.exists():
        data = np.load(path, allow_pickle=False)
        wv = WordVectors(data["words"].tolist(), data["vectors"], data["losses"].tolist(),
                         json.loads(str(data["info"])))
    else:
        from utils.wordnet import gloss_corpus

        wv = train_sgns(gloss_corpus(), progress=progress, device="cpu", **COURSE_SETTINGS)
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")  # per process: two kernels may train at once
        np.savez(tmp, words=np.array(wv.words), vectors=wv.vectors, losses=np.array(wv.losses),
                 info=json.dumps(wv.info))
        tmp.replace(path)
    _COURSE["wv"] = wv
    return wv

