"""The course's helper package: reference implementations, offline data loaders, checks, generator and grader.

One module per idea (``vectors``, ``bpe``, ``minilm``, ``word2vec``, ``positional``, ``retrieval``, ...); the notebooks
import from here so that later cells never depend on a learner's unfinished exercise.
"""
