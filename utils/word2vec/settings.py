"""The SGNS hyper-parameters, written once (notebook 05, section 10).

:class:`SGNSSettings` is the only place their names and default values are written. Everything else derives from
it: :func:`train_sgns` (utils.word2vec.sgns) takes them as keyword arguments and checks them here, the ``info`` of the
vectors it returns starts with them (``dataclasses.asdict``), :func:`build_vocab` and :func:`keep_probabilities`
(utils.word2vec.data) default to their ``min_count`` and ``subsample``, and :data:`COURSE_SETTINGS`, the dict whose
JSON names the cached vectors' file (utils.word2vec.cache), is built from them.

>>> SGNSSettings(dim=8, epochs=1).dim, SGNSSettings().lr
(8, 0.1)
>>> SGNSSettings(batch_size=100, share=16)
Traceback (most recent call last):
...
ValueError: batch_size (100) must be a multiple of share (16)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class SGNSSettings:
    """The hyper-parameters that decide what SGNS learns; the defaults are notebook 05's settings.

    How the loop runs (device, progress bar, time budget, logging, threads) is not part of them: those are
    :func:`~utils.word2vec.sgns.train_sgns`'s own arguments. Field order is :data:`COURSE_SETTINGS`'s.
    """
    dim: int = 100           # vector length
    window: int = 5          # maximum (dynamic) window
    negatives: int = 5       # K noise words per pair
    epochs: int = 2          # passes over the corpus
    min_count: int = 5       # rarer words are dropped from the vocabulary
    subsample: float = 1e-4  # t of the subsampling rule (0 switches it off)
    lr: float = 0.1          # step size per pair, decaying linearly to ~0
    batch_size: int = 4096   # pairs per SGD step
    share: int = 16          # groups of this many pairs share their negatives
    seed: int = 0            # numpy and torch generators

    def __post_init__(self):
        for name in ("dim", "window", "negatives", "epochs", "batch_size", "share", "min_count"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if self.batch_size % self.share:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of share ({self.share})")


#: the settings notebook 05 trains with (and course_vectors() reproduces), as a plain dict (``**COURSE_SETTINGS``);
#: its sorted-key JSON names the disk cache file (see utils.word2vec.cache): change a value and the vectors retrain
COURSE_SETTINGS = asdict(SGNSSettings())
