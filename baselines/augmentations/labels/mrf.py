"""A Markov random field that gives detected heatmap peaks their landmark identities.

Labels: landmark ``k`` takes a label ``x_k`` in ``{peak 0, ..., peak P-1, missing}``; a peak goes to at
most one landmark. The energy of a labelling is a negative log-likelihood,

    E(x) = sum_k U_k(x_k) + sum_{(i, j) in edges} V_ij(x_i, x_j),

    U_k(p)    = nll(p; mu_k, S_k) - w log(h_p / max h)     (position of landmark k, peak height h_p)
    V_ij(p, q) = nll(q - p; mu_ij, S_ij)                    (displacement from landmark i to landmark j)
    nll(z; mu, S) = 1/2 (z - mu)^T S^-1 (z - mu) + 1/2 log det S + log(2 pi)

with per-landmark Gaussians of the training positions and per-edge Gaussians of the training
displacements ``p_j - p_i`` on the edges of :func:`baselines.augmentations.labels.graph.landmark_graph`.
Covariances are regularised: ``S = (1 - a) C + a tr(C) / 2 I + s^2 I`` (shrinkage ``a`` towards the isotropic
covariance of the same total variance, so a few training shapes still give an invertible matrix, plus the
peak localisation variance ``s^2``; doubled for a displacement, which carries the noise of two peaks).

"Missing" costs, in every term that involves the landmark, the nll of a point on the ``q``-quantile
ellipse of that term's Gaussian: ``1/2 c_q + 1/2 log det S + log(2 pi)`` with ``c_q = -2 log(1 - q)``
(the chi^2 quantile with 2 degrees of freedom). A landmark is thus left missing when every peak on offer
would be an outlier at level ``q`` on balance over its terms. The default ``q = 1 - 1e-5`` (``c_q`` = 23,
4.8 standard deviations) keeps "missing" for gross outliers: naming the peaks is the MRF's job, judging
the shape is the shape model's (with ``q = 0.999`` an unusually spread little finger already went
missing in 1% of real hands). Two landmarks on the same peak cost
:data:`CONFLICT` in their pairwise term. Since the cost of "missing" grows with a landmark's number of
terms, when one peak is absent a neighbour with fewer edges may be declared missing in its place (the
thumb IP joint for an absent thumb tip): the labelling still has one missing landmark, which is all the
reader acts on.

Inference (the graph has cycles, so exact MAP is out of reach in general):

1. pose: the training mean shape is registered onto the peaks by a similarity transform, alternating a
   one-to-one Hungarian matching on squared distances with a least-squares similarity fit (an ICP,
   started at three rotations); the unary Gaussians include the whole pose variation of the training
   set and are too broad to rank peaks, the registered mean shape is not;
2. candidates: each landmark keeps the ``M`` peaks nearest to its registered position, plus "missing";
3. loopy min-sum belief propagation on the candidate labels (flooding schedule, damped messages) gives
   approximate min-marginals ``b_k(x) = U_k(x) + sum_n m_{n->k}(x)``; a Hungarian assignment
   (``scipy.optimize.linear_sum_assignment``) on them, with one private "missing" column per landmark,
   makes the labelling one-to-one (BP alone may give one peak to two landmarks);
4. a steepest-descent variant of iterated conditional modes on the exact energy over *all* peaks
   polishes it: the best of all moves (a landmark to a free peak or to "missing") and swaps (two
   neighbours exchange their peaks) is applied while it lowers ``E``. The descent is run from the BP
   labelling and from the registration's matching of step 1, and the labelling of lower energy is
   returned. It only descends, so the result is never worse than either start and is a local minimum of
   ``E`` under these moves. (The second start matters where BP settles in a frustrated loop, e.g. all
   four fingers shifted by one finger.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from baselines.augmentations.labels.graph import landmark_graph
from baselines.augmentations.labels.shape_model import similarity_transform

CONFLICT = 1e6  # pairwise cost of two landmarks on one peak (finite, to keep the min-sum arithmetic exact)


@dataclass
class Assignment:
    """A labelling: ``landmarks`` (K, 2) (x, y) with NaN where missing, ``assigned_peak`` (K,) peak index
    or -1, the energy ``E`` and the number of peaks no landmark took."""

    landmarks: np.ndarray
    assigned_peak: np.ndarray
    energy: float
    n_unassigned_peaks: int


@dataclass
class _Gaussians:
    """Regularised 2-D Gaussians: means (G, 2), precisions (G, 2, 2), nll constants (G,)."""

    mean: np.ndarray
    precision: np.ndarray
    constant: np.ndarray

    @classmethod
    def fit(cls, samples: np.ndarray, shrinkage: float, noise_var: float) -> _Gaussians:
        """Fit one Gaussian per column of ``samples`` (N, G, 2)."""
        mean = samples.mean(axis=0)
        centred = samples - mean
        n = max(len(samples) - 1, 1)
        cov = np.einsum("ngi,ngj->gij", centred, centred) / n
        isotropic = np.trace(cov, axis1=1, axis2=2)[:, None, None] / 2 * np.eye(2)
        cov = (1 - shrinkage) * cov + shrinkage * isotropic + noise_var * np.eye(2)
        constant = 0.5 * np.log(np.linalg.det(cov)) + np.log(2 * np.pi)
        return cls(mean, np.linalg.inv(cov), constant)

    def nll(self, z: np.ndarray, index: np.ndarray) -> np.ndarray:
        """nll of points ``z`` (..., 2) under Gaussians ``index`` (...) (broadcast)."""
        r = z - self.mean[index]
        return 0.5 * np.einsum("...i,...ij,...j->...", r, self.precision[index], r) + self.constant[index]


class LandmarkMRF:
    """Peak-to-landmark matching by MAP inference in the MRF described in the module docstring.

    ``edges`` defaults to the Delaunay graph of the training mean shape; ``n_candidates`` is ``M``;
    ``missing_quantile`` is ``q``; ``min_std`` is the peak localisation noise ``s`` in pixels;
    ``shrinkage`` is ``a``; ``height_weight`` is ``w``.
    """

    def __init__(self, edges: list[tuple[int, int]] | None = None, n_candidates: int = 6,
                 missing_quantile: float = 0.99999, min_std: float = 1.0, shrinkage: float = 0.05,
                 height_weight: float = 1.0, bp_iterations: int = 30, damping: float = 0.5,
                 max_moves: int = 100) -> None:
        self.edges = edges
        self.n_candidates = n_candidates
        self.missing_quantile = missing_quantile
        self.min_std = min_std
        self.shrinkage = shrinkage
        self.height_weight = height_weight
        self.bp_iterations = bp_iterations
        self.damping = damping
        self.max_moves = max_moves

    def fit(self, shapes: np.ndarray) -> LandmarkMRF:
        """Fit the unary and pairwise Gaussians on training shapes (N, K, 2)."""
        shapes = np.asarray(shapes, dtype=np.float64)
        self.num_landmarks = shapes.shape[1]
        self.mean_shape = shapes.mean(axis=0)
        edges = landmark_graph(self.mean_shape) if self.edges is None else self.edges
        self.edge_array = np.array(edges, dtype=np.int64).reshape(-1, 2)
        self.unary_model = _Gaussians.fit(shapes, self.shrinkage, self.min_std**2)
        displacements = shapes[:, self.edge_array[:, 1]] - shapes[:, self.edge_array[:, 0]]
        self.pair_model = _Gaussians.fit(displacements, self.shrinkage, 2 * self.min_std**2)
        outlier = -2 * np.log1p(-self.missing_quantile)  # chi^2 quantile q with 2 degrees of freedom
        self.unary_missing = 0.5 * outlier + self.unary_model.constant
        self.pair_missing = 0.5 * outlier + self.pair_model.constant
        return self

    # -- energy terms -----------------------------------------------------------------------------------

    def unary(self, peaks: np.ndarray, peak_heights: np.ndarray | None = None) -> np.ndarray:
        """``U_k(p)`` for every landmark and peak: (K, P)."""
        cost = self.unary_model.nll(peaks[None, :, :], np.arange(self.num_landmarks)[:, None])
        if peak_heights is not None and len(peaks):
            heights = np.maximum(np.asarray(peak_heights, dtype=np.float64), 1e-12)
            cost = cost - self.height_weight * np.log(heights / heights.max())[None, :]
        return cost

    def _pair(self, peaks: np.ndarray, edge: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``V_ij(x_i, x_j)`` for edges ``edge`` with labels ``a`` of i and ``b`` of j (peak or -1),
        broadcast."""
        edge, a, b = np.broadcast_arrays(edge, a, b)
        cost = self.pair_model.nll(peaks[b] - peaks[a], edge) if len(peaks) else np.zeros(edge.shape)
        cost = np.where((a < 0) | (b < 0), self.pair_missing[edge], cost)
        return np.where((a == b) & (a >= 0), CONFLICT, cost)

    def energy(self, peaks: np.ndarray, assigned_peak: np.ndarray,
               peak_heights: np.ndarray | None = None) -> float:
        """``E(x)`` of a labelling ``assigned_peak`` (K,) (peak index or -1)."""
        peaks = np.asarray(peaks, dtype=np.float64).reshape(-1, 2)
        unary = self._unary_with_missing(peaks, peak_heights)
        e = self.edge_array
        pair = self._pair(peaks, np.arange(len(e)), assigned_peak[e[:, 0]], assigned_peak[e[:, 1]])
        return float(unary[np.arange(self.num_landmarks), assigned_peak].sum() + pair.sum())

    def _unary_with_missing(self, peaks: np.ndarray, peak_heights: np.ndarray | None) -> np.ndarray:
        """(K, P + 1): the unary costs with "missing" in the last column, so index -1 means missing."""
        return np.concatenate([self.unary(peaks, peak_heights), self.unary_missing[:, None]], axis=1)

    # -- inference ------------------------------------------------------------------------------------------

    def _belief_propagation(self, peaks: np.ndarray, unary: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Min-marginals (K, M + 1) of the candidate labels ``candidates`` (K, M + 1), -1 = missing."""
        e = self.edge_array
        unary_c = np.take_along_axis(unary, np.where(candidates < 0, unary.shape[1] - 1, candidates), axis=1)
        # pair[e, a, b]: edge e with candidate a of its first and candidate b of its second landmark.
        pair = self._pair(peaks, np.arange(len(e))[:, None, None], candidates[e[:, 0]][:, :, None],
                          candidates[e[:, 1]][:, None, :])
        labels = candidates.shape[1]
        forward = np.zeros((len(e), labels))  # message i -> j, over x_j
        backward = np.zeros((len(e), labels))  # message j -> i, over x_i
        for _ in range(self.bp_iterations):
            incoming = np.zeros_like(unary_c)
            np.add.at(incoming, e[:, 1], forward)
            np.add.at(incoming, e[:, 0], backward)
            belief = unary_c + incoming
            new_forward = ((belief[e[:, 0]] - backward)[:, :, None] + pair).min(axis=1)
            new_backward = ((belief[e[:, 1]] - forward)[:, None, :] + pair).min(axis=2)
            new_forward -= new_forward.min(axis=1, keepdims=True)
            new_backward -= new_backward.min(axis=1, keepdims=True)
            change = max(np.abs(new_forward - forward).max(initial=0.0),
                         np.abs(new_backward - backward).max(initial=0.0))
            forward = self.damping * forward + (1 - self.damping) * new_forward
            backward = self.damping * backward + (1 - self.damping) * new_backward
            if change < 1e-6:
                break
        incoming = np.zeros_like(unary_c)
        np.add.at(incoming, e[:, 1], forward)
        np.add.at(incoming, e[:, 0], backward)
        return unary_c + incoming

    def _hungarian(self, num_peaks: int, candidates: np.ndarray, belief: np.ndarray) -> np.ndarray:
        """One-to-one labelling from min-marginals: columns = peaks, then one private "missing" per
        landmark."""
        k = self.num_landmarks
        belief = belief - belief.min(axis=1, keepdims=True)
        cost = np.full((k, num_peaks + k), CONFLICT)
        rows = np.repeat(np.arange(k), candidates.shape[1])
        columns = np.where(candidates < 0, num_peaks + np.arange(k)[:, None], candidates).ravel()
        cost[rows, columns] = belief.ravel()
        _, chosen = linear_sum_assignment(cost)
        return np.where(chosen < num_peaks, chosen, -1)

    def _local_costs(self, peaks: np.ndarray, unary: np.ndarray, assigned: np.ndarray) -> np.ndarray:
        """``L_k(x) = U_k(x) + sum_{n in N(k)} V_kn(x, x_n)`` for every landmark and label, the others
        fixed: (K, P + 1), column ``x + 1`` for label ``x`` (column 0 = missing)."""
        e = self.edge_array
        labels = np.arange(-1, len(peaks))[None, :]
        index = np.arange(len(e))[:, None]
        costs = unary[:, labels[0]].copy()
        np.add.at(costs, e[:, 0], self._pair(peaks, index, labels, assigned[e[:, 1]][:, None]))
        np.add.at(costs, e[:, 1], self._pair(peaks, index, assigned[e[:, 0]][:, None], labels))
        return costs

    def _descend(self, peaks: np.ndarray, unary: np.ndarray, assigned: np.ndarray) -> np.ndarray:
        """Steepest descent on ``E`` over one-to-one labellings: repeatedly apply the best of all single
        moves (a landmark to a free peak or to "missing", change ``L_k(x) - L_k(x_k)``) and all swaps of
        two neighbours' peaks, while it lowers ``E``.

        Swap of the neighbours ``(i, j)`` with labels ``(a, b)``: with ``C`` = :data:`CONFLICT` (the value
        ``L_i(b)`` and ``L_j(a)`` carry for the edge ``(i, j)``, whose other end still holds that peak),
        ``dE = L_i(b) + L_j(a) - L_i(a) - L_j(b) + V_ij(b, a) + V_ij(a, b) - 2 C``.
        """
        e = self.edge_array
        rows = np.arange(self.num_landmarks)
        for _ in range(self.max_moves):
            costs = self._local_costs(peaks, unary, assigned)
            current = costs[rows, assigned + 1]
            taken = np.zeros(costs.shape, dtype=bool)
            taken[:, assigned[assigned >= 0] + 1] = True
            move = np.where(taken, np.inf, costs - current[:, None])
            a, b = assigned[e[:, 0]], assigned[e[:, 1]]
            index = np.arange(len(e))
            swap = (costs[e[:, 0], b + 1] + costs[e[:, 1], a + 1] - current[e[:, 0]] - current[e[:, 1]]
                    + self._pair(peaks, index, b, a) + self._pair(peaks, index, a, b) - 2 * CONFLICT)
            swap = np.where((a >= 0) & (b >= 0), swap, np.inf)
            best_move = np.unravel_index(np.argmin(move), move.shape)
            best_swap = int(np.argmin(swap)) if len(e) else -1
            swap_gain = swap[best_swap] if len(e) else np.inf
            if min(move[best_move], swap_gain) >= -1e-9:
                break
            if move[best_move] <= swap_gain:
                assigned[best_move[0]] = best_move[1] - 1
            else:
                i, j = e[best_swap]
                assigned[i], assigned[j] = assigned[j], assigned[i]
        return assigned

    def _register(self, peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(predicted (K, 2), matched (K,))``: the mean shape registered onto the peaks by a similarity
        transform, with correspondences from a Hungarian matching on squared distances (an ICP with
        one-to-one matches; with fewer peaks than landmarks some landmarks stay unmatched).

        Started from the mean shape moved onto the peaks' centroid and RMS spread and turned by -30, 0 and
        +30 degrees; the registration with the lowest matching cost wins. ``matched`` is its matching
        (peak index or -1), itself a one-to-one labelling.
        """
        k, num_peaks = self.num_landmarks, len(peaks)
        spread = np.sqrt(((self.mean_shape - self.mean_shape.mean(axis=0)) ** 2).sum(axis=1).mean())
        peak_spread = np.sqrt(((peaks - peaks.mean(axis=0)) ** 2).sum(axis=1).mean())
        best_cost, best = np.inf, (self.mean_shape, np.full(k, -1))
        for angle in np.radians([-30.0, 0.0, 30.0]):
            rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            a = peak_spread / max(spread, 1e-12) * rotation
            t = peaks.mean(axis=0) - self.mean_shape.mean(axis=0) @ a.T
            matched = np.full(k, -1)
            for _ in range(10):
                predicted = self.mean_shape @ a.T + t
                cost = np.full((k, num_peaks + k), CONFLICT**2)
                cost[:, :num_peaks] = ((peaks[None] - predicted[:, None]) ** 2).sum(axis=2)
                rows, columns = linear_sum_assignment(cost)
                total = float(cost[rows, columns].sum())
                new_matched = np.where(columns < num_peaks, columns, -1)
                converged = np.array_equal(new_matched, matched)
                matched = new_matched
                if converged or (matched >= 0).sum() < 2:
                    break
                a, t = similarity_transform(self.mean_shape[matched >= 0], peaks[matched[matched >= 0]])
            if total < best_cost:
                best_cost, best = total, (predicted, matched)
        return best

    def assign(self, peaks: np.ndarray, peak_heights: np.ndarray | None = None,
               n_candidates: int | None = None) -> Assignment:
        """MAP labelling of ``peaks`` (P, 2) (x, y), optionally weighted by their heights (P,);
        ``n_candidates`` overrides ``M`` for this call."""
        peaks = np.asarray(peaks, dtype=np.float64).reshape(-1, 2)
        num_peaks = len(peaks)
        unary = self._unary_with_missing(peaks, peak_heights)
        m = min(n_candidates or self.n_candidates, num_peaks)
        no_match = (self.mean_shape, np.full(self.num_landmarks, -1))
        predicted, matched = self._register(peaks) if num_peaks else no_match
        distance = ((peaks[None] - predicted[:, None]) ** 2).sum(axis=2)
        nearest = np.argsort(distance, axis=1, kind="stable")[:, :m]
        candidates = np.concatenate([nearest, np.full((self.num_landmarks, 1), -1)], axis=1)
        belief = self._belief_propagation(peaks, unary, candidates)
        starts = [self._hungarian(num_peaks, candidates, belief), matched]
        polished = [self._descend(peaks, unary, start.copy()) for start in starts]
        energies = [self.energy(peaks, x, peak_heights) for x in polished]
        assigned = polished[int(np.argmin(energies))]
        landmarks = np.full((self.num_landmarks, 2), np.nan)
        landmarks[assigned >= 0] = peaks[assigned[assigned >= 0]]
        return Assignment(landmarks, assigned, min(energies), num_peaks - int((assigned >= 0).sum()))
