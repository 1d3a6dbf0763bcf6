"""word2vec from scratch: skip-gram with negative sampling (SGNS) in torch (notebook 05; vectors reused by notebook 07).

The pieces, in the order notebook 05 builds them (one module per job; every name is also importable from
``utils.word2vec`` itself, as ``word2vec.<name>`` in the notebooks):

* :mod:`.toy` - :func:`gradient_descent_1d`, gradient descent on one number (section 2);
* :mod:`.data` - :func:`build_vocab` counts words and keeps those seen at least ``min_count`` times;
  :func:`keep_probabilities` - frequent words ("the", "of") are randomly dropped (subsampling);
  :func:`skipgram_pairs` - (center, context) pairs inside a random window around each word;
  :func:`negative_distribution` / :func:`sample_negatives` - "noise" words drawn from unigram counts ** 0.75
  (sections 6 and 8);
* :mod:`.settings` - :class:`SGNSSettings`, the hyper-parameters written once with notebook 05's values as defaults,
  and :data:`COURSE_SETTINGS`, the same as a dict (section 10);
* :mod:`.sgns` - :func:`sgns_loss` and :func:`sgns_gradients` - the loss of one batch and its gradient written by
  hand (section 7); :func:`sgd_step` (section 9); :func:`train_sgns` - the whole loop (batched, seedable, CPU or
  CUDA), its hyper-parameters the fields of :class:`SGNSSettings` (section 10);
* :mod:`.word_vectors` - :class:`WordVectors`, the trained vectors with cosine look-ups (sections 10 and 11);
* :mod:`.evaluation` - :func:`wordsim_spearman` and :func:`analogy_accuracy` - the two classic evaluations, read
  offline from gensim (section 10);
* :mod:`.cache` - :func:`course_vectors` - the vectors trained with notebook 05's settings, cached per kernel and
  on disk (``data/cache/``, or ``COURSE_CACHE_DIR``).

Worked example (a toy corpus; real training uses ``wordnet.gloss_corpus()``)::

    >>> wv = train_sgns([["a", "b", "c"]] * 50, dim=8, window=1, min_count=1, epochs=2, subsample=0)
    >>> wv.vectors.shape, "b" in wv
    ((3, 8), True)
"""
from utils.word2vec.cache import CACHE_DIR, course_vectors
from utils.word2vec.data import (Vocab, build_vocab, encode_corpus, keep_probabilities, negative_distribution,
                                 sample_negatives, skipgram_pairs)
from utils.word2vec.evaluation import analogy_accuracy, analogy_questions, spearman, wordsim353, wordsim_spearman
from utils.word2vec.settings import COURSE_SETTINGS, SGNSSettings
from utils.word2vec.sgns import sgd_step, sgns_gradients, sgns_loss, train_sgns
from utils.word2vec.toy import gradient_descent_1d
from utils.word2vec.word_vectors import UnknownWordError, WordVectors

__all__ = [
    "CACHE_DIR", "COURSE_SETTINGS", "SGNSSettings", "UnknownWordError", "Vocab", "WordVectors", "analogy_accuracy",
    "analogy_questions", "build_vocab", "course_vectors", "encode_corpus", "gradient_descent_1d",
    "keep_probabilities", "negative_distribution", "sample_negatives", "sgd_step", "sgns_gradients", "sgns_loss",
    "skipgram_pairs", "spearman", "train_sgns", "wordsim353", "wordsim_spearman",
]
