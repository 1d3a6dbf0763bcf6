"""A vector database for the course: Qdrant through its Python client, embedded on disk by default.

Qdrant's client has a *local mode*: with ``path=`` it runs inside this Python process and keeps the collection in a
folder (exact search; the client recommends it up to about 20,000 points); with ``url=`` the very same calls go to a
Qdrant server or cluster (approximate HNSW search, sharding, replication). Switching is one argument::

    store = VectorStore(path="data/cache/rag_db")          # embedded, persistent (this course)
    store = VectorStore(url="http://localhost:6333")       # a Qdrant server (docker run -p 6333:6333 qdrant/qdrant)

:class:`VectorStore` adds what a RAG system needs on top: chunks in, chunks out (:class:`~utils.rag.ingest.DocChunk`
with its payload: source, type, page/section/lines), replace-a-file (delete its old chunks, upsert the new ones),
metadata filters, and counts.
"""
from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np

from utils.rag.ingest import DocChunk

DEFAULT_COLLECTION = "course"
_NAMESPACE = uuid.UUID("6f0c6d3e-5b0a-4f53-9d0e-10a7c0ffee10")  # chunk id -> stable point id (Qdrant wants ints/UUIDs)


def point_id(chunk_id: str) -> str:
    """A stable UUID for a chunk id, so re-ingesting a file overwrites the same points.

    >>> point_id("a.md#0") == point_id("a.md#0") != point_id("a.md#1")
    True
    """
    return str(uuid.uuid5(_NAMESPACE, chunk_id))


class VectorStore:
    """Chunks and their vectors in a Qdrant collection (cosine similarity).

    ``path``: a folder for the embedded database (created if missing; reopening it gives back the same data);
    ``url``: a Qdrant server instead; neither: an in-memory database that disappears with the object.

    >>> store = VectorStore(dim=2)
    >>> store.replace_source("a.txt", [DocChunk("a.txt", 0, "east", "text"), DocChunk("a.txt", 1, "north", "text")],
    ...                      [[1, 0], [0, 1]])
    >>> [(c.text, round(s, 3)) for c, s in store.search([1, 0.2], k=2)]
    [('east', 0.981), ('north', 0.196)]
    >>> store.close()
    """

    def __init__(self, path=None, url: str | None = None, collection: str = DEFAULT_COLLECTION, dim: int = 384):
        from qdrant_client import QdrantClient, models

        if path is not None and url is not None:
            raise ValueError("give either path= (embedded database) or url= (a server), not both")
        if not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        self.models, self.collection, self.dim = models, collection, int(dim)
        self.path = Path(path) if path is not None else None
        if url is not None:
            self.client = QdrantClient(url=url)
        elif path is not None:
            self.client = QdrantClient(path=str(path))
        else:
            self.client = QdrantClient(location=":memory:")
        if self.client.collection_exists(collection):
            size = self.client.get_collection(collection).config.params.vectors.size
            if size != self.dim:
                raise ValueError(f"collection {collection!r} holds {size}-dim vectors, not {self.dim}: "
                                 "use another collection name or the model that built it")
        else:
            self.client.create_collection(collection, vectors_config=models.VectorParams(
                size=self.dim, distance=models.Distance.COSINE))

    # -- writing ------------------------------------------------------------------------------------------------
    def upsert(self, chunks, vectors) -> None:
        """Insert or overwrite chunks (matched by source and index) with their vectors (n, dim)."""
        chunks = list(chunks)
        X = np.asarray(vectors, dtype=np.float32)
        if X.ndim != 2 or X.shape != (len(chunks), self.dim):
            raise ValueError(f"need one {self.dim}-dim vector per chunk: {len(chunks)} chunks, vectors {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("vectors contain NaN or infinity")
        points = [self.models.PointStruct(id=point_id(c.chunk_id), vector=x.tolist(), payload=c.payload())
                  for c, x in zip(chunks, X)]
        for start in range(0, len(points), 2048):  # local mode persists once per call: large batches are faster
            self.client.upsert(self.collection, points=points[start:start + 2048])

    def delete_source(self, source: str) -> int:
        """Remove every chunk of one file; returns how many there were."""
        n = self.count(source=source)
        if n:
            self.client.delete(self.collection, points_selector=self.models.FilterSelector(
                filter=self._filter(source=source)))
        return n

    def replace_source(self, source: str, chunks, vectors) -> None:
        """Re-ingest one file: its old chunks go, the new ones come (idempotent: twice gives the same store)."""
        chunks = list(chunks)
        if any(c.source != source for c in chunks):
            raise ValueError(f"every chunk must come from {source!r}")
        self.delete_source(source)
        self.upsert(chunks, vectors)

    # -- reading ------------------------------------------------------------------------------------------------
    def _filter(self, doc_type=None, source=None):
        m = self.models
        must = []
        for key, value in (("doc_type", doc_type), ("source", source)):
            if value is None:
                continue
            values = [value] if isinstance(value, str) else list(value)
            must.append(m.FieldCondition(key=key, match=m.MatchAny(any=values)))
        return m.Filter(must=must) if must else None

    def search(self, vector, k: int = 5, doc_type=None, source=None) -> list[tuple[DocChunk, float]]:
        """The ``k`` chunks most similar to ``vector`` (cosine), best first, optionally only of some document
        type(s) (``"pdf"`` or ``["code", "text"]``) or source(s). The filter is applied *inside* the search, so
        you get ``k`` results of that type whenever that many exist."""
        q = np.asarray(vector, dtype=np.float32)
        if q.shape != (self.dim,):
            raise ValueError(f"the query vector should have shape ({self.dim},), got {q.shape}")
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        hits = self.client.query_points(self.collection, query=q.tolist(), limit=int(k), with_payload=True,
                                        query_filter=self._filter(doc_type, source)).points
        return [(DocChunk.from_payload(h.payload), float(h.score)) for h in hits]

    def count(self, doc_type=None, source=None) -> int:
        return self.client.count(self.collection, count_filter=self._filter(doc_type, source), exact=True).count

    def chunks(self, doc_type=None) -> list[DocChunk]:
        """Every stored chunk (optionally of one type), ordered by source then position."""
        found, offset = [], None
        while True:
            page, offset = self.client.scroll(self.collection, scroll_filter=self._filter(doc_type), limit=512,
                                              offset=offset, with_payload=True, with_vectors=False)
            found += [DocChunk.from_payload(p.payload) for p in page]
            if offset is None:
                return sorted(found, key=lambda c: (c.source, c.index))

    def sources(self) -> dict[str, int]:
        """Source -> number of chunks."""
        counts: dict[str, int] = {}
        for c in self.chunks():
            counts[c.source] = counts.get(c.source, 0) + 1
        return counts

    def close(self) -> None:
        """Release the folder (the embedded database locks it while open)."""
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
