"""The topology of the landmark MRF: which landmark pairs get a pairwise (displacement) term.

Choice: the edges of the Delaunay triangulation of the training mean shape. It works for any landmark
set without hand-made anatomy and has the properties the MRF needs:

* it contains the nearest-neighbour graph and the Euclidean minimum spanning tree, so every landmark is
  tied to its closest neighbours and the graph is connected. For the hand this gives almost all
  consecutive joints along each finger (CMC-MCP-PIP-DIP-tip; a long metacarpal between two close
  neighbouring rays can be cut by a diagonal, whose triangles still fix it), the neighbouring fingers'
  corresponding joints and the carpal mesh; for the cephalogram, the profile chain and the skull base;
* it is planar, so it has at most ``3K - 6`` edges: the pairwise terms stay local and cheap (a complete
  graph would have ``K (K - 1) / 2``), while every triangle fixes the relative layout of its three
  landmarks, which a tree would not (a tree lets one branch mirror onto the other side of its parent).

When the mean shape is degenerate (fewer than three landmarks, or all collinear, where the triangulation
does not exist) the fallback is the symmetric ``k``-nearest-neighbour graph (``k = min(3, K - 1)``).
The minimum spanning tree is always joined in: it is part of the triangulation anyway, and it keeps
the graph connected in the fallback and when coincident mean positions leave a landmark out of the
triangulation. ``extra_edges`` adds anatomical knowledge on top.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import Delaunay, QhullError, distance_matrix


def _delaunay_edges(points: np.ndarray) -> set[tuple[int, int]]:
    """Edges of the Delaunay triangulation; raises QhullError for a degenerate point set."""
    edges = set()
    for a, b, c in Delaunay(points).simplices:
        edges.update({(a, b), (b, c), (a, c)})
    return edges


def _knn_edges(points: np.ndarray, k: int) -> set[tuple[int, int]]:
    """Symmetric k-nearest-neighbour edges."""
    distance = distance_matrix(points, points)
    np.fill_diagonal(distance, np.inf)
    return {(i, int(j)) for i, row in enumerate(distance) for j in np.argsort(row, kind="stable")[:k]}


def _tree_edges(points: np.ndarray) -> set[tuple[int, int]]:
    """Edges of the Euclidean minimum spanning tree (coincident points get a tiny positive length, since
    a zero entry means "no edge" to the sparse graph routine)."""
    distance = np.maximum(distance_matrix(points, points), 1e-12)
    np.fill_diagonal(distance, 0.0)
    tree = minimum_spanning_tree(distance).tocoo()
    return set(zip(tree.row.tolist(), tree.col.tolist(), strict=True))


def landmark_graph(mean_shape: np.ndarray,
                   extra_edges: Iterable[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """Edges ``(i, j)`` with ``i < j``, sorted, of the MRF over the landmarks of ``mean_shape`` (K, 2)."""
    points = np.asarray(mean_shape, dtype=np.float64)
    k = len(points)
    try:
        edges = _delaunay_edges(points) if k >= 3 else _knn_edges(points, min(3, k - 1))
    except QhullError:
        edges = _knn_edges(points, min(3, k - 1))
    edges |= _tree_edges(points)
    edges.update((int(i), int(j)) for i, j in extra_edges)
    return sorted({(min(int(i), int(j)), max(int(i), int(j))) for i, j in edges if i != j})
