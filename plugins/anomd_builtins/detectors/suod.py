"""SUOD: a scalable ensemble of heterogeneous detectors (Zhao et al., 2021).

Needs the optional ``suod`` package. The default ensemble is small on purpose (LOF, HBOS,
isolation forest, kNN) so fitting stays in seconds on one core. PyOD's COPOD and ECOD are
available but not in the default: scored inside SUOD they re-rank each batch against itself and
write to the fitted model while scoring, so a row's score depends on its batch.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any, Literal

import msgspec

import anomd
from anomd.detectors import CELL, DetectorSpec, MemoryCost

from ._pyod import PyODDetector
from ._range_tails import TailParam

BaseName = Literal["lof", "hbos", "copod", "ecod", "isolation_forest", "knn", "loda"]


class SUODParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    base_estimators: Annotated[list[BaseName], msgspec.Meta(min_length=1, max_length=20)] = msgspec.field(
        default_factory=lambda: ["lof", "hbos", "isolation_forest", "knn"]
    )
    combination: Literal["average", "maximization"] = "average"
    rp_flag_global: bool = True
    approx_flag_global: bool = True
    # Balanced parallel scheduling only pays off with several jobs; anomd runs SUOD with one job,
    # and with the flag on SUOD rebuilds a cost model and writes it into its own install folder
    # on every fit (a side effect that is unsafe across threads and on read-only installs).
    bps_flag: bool = False
    random_state: int | None = 42
    tail: TailParam = "extrapolated"


def _base(name: str, seed: int | None):
    from pyod.models.copod import COPOD
    from pyod.models.ecod import ECOD
    from pyod.models.hbos import HBOS
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.loda import LODA
    from pyod.models.lof import LOF

    return {
        "lof": lambda: LOF(n_neighbors=20),
        "hbos": HBOS,
        "copod": COPOD,
        "ecod": ECOD,
        "isolation_forest": lambda: IForest(n_estimators=100, random_state=seed),
        "knn": KNN,
        "loda": lambda: LODA(random_state=seed),
    }[name]()


#: SUOD's scoring path is not known to be read-only (its members may write to themselves while
#: scoring), and one cached model serves concurrent requests: scoring is serialised.
_SCORING = threading.Lock()


def _quiet_suod() -> None:
    """Stops SUOD printing joblib's progress lines ("[Parallel(n_jobs=1)]: Done 1 out of 1")
    straight to stderr, past anomd's logging: a JSON log would get bare lines in it.

    SUOD passes ``verbose=True`` to joblib's ``Parallel`` whatever its own ``verbose`` says, so
    its module gets a ``Parallel`` that keeps quiet; nothing else changes.
    """
    import joblib
    import suod.models.base as suod_base

    if getattr(suod_base.Parallel, "anomd_quiet", False):
        return

    class QuietParallel(joblib.Parallel):
        anomd_quiet = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["verbose"] = 0
            super().__init__(*args, **kwargs)

    suod_base.Parallel = QuietParallel


class SUODDetector(PyODDetector):
    """Seeds numpy around fit: SUOD's random projections draw from the global generator.

    Beyond the training range its members disagree (HBOS and the forest cap, the regressors
    that approximate kNN and LOF level off at random), so with ``tail="extrapolated"`` values
    beyond the range are scored on its end plus the tail term (``_range_tails``).
    """

    clip_beyond_range = True

    def __init__(self, params: SUODParams, contamination: float) -> None:
        from pyod.models.suod import SUOD

        _quiet_suod()
        self.seed = params.random_state
        super().__init__(
            SUOD(
                base_estimators=[_base(n, params.random_state) for n in params.base_estimators],
                combination=params.combination, rp_flag_global=params.rp_flag_global,
                approx_flag_global=params.approx_flag_global, bps_flag=params.bps_flag,
                contamination=contamination, n_jobs=1, verbose=False,
            ),
            params.tail,
        )

    def fit(self, X):
        import numpy as np

        if self.seed is not None:
            np.random.seed(self.seed)
        return super().fit(X)

    def capped_score(self, X):
        with _SCORING:
            return super().capped_score(X)


MB = 1 << 20
#: Base estimators SUOD replaces by a regression forest (its "approximation"): its model grows
#: by a few kB per training row for each of them.
_APPROXIMATED = frozenset({"lof", "knn"})


def _forest_rows(n: int, params: SUODParams) -> int:
    if not params.approx_flag_global:
        return 0
    return n * sum(1 for name in params.base_estimators if name in _APPROXIMATED)


#: Measured: the members' own memory (neighbour arrays, trees) plus, with the approximation on,
#: 50-tree regression forests grown to full depth on every row, the bulk of the model. The
#: fit's constant is 10 MB: a /detect of 3,000 x 10 (a fit without saving) grew a fresh process
#: by 35 MB against 66 estimated with 16.
MEMORY = MemoryCost(
    fit=lambda n, d, p: 7 * _forest_rows(n, p) * 1024 + len(p.base_estimators) * 4 * n * d * CELL
    + 40 * n * len(p.base_estimators) * CELL + 10 * MB,
    score=lambda m, d, n, p: 2 * m * d * CELL + 50 * m * len(p.base_estimators) + 6 * MB,
    model=lambda n, d, p: 6 * _forest_rows(n, p) * 1024 + n * d * CELL * 2 + 64 * n + MB,
)


SPEC = DetectorSpec(
    id="suod",
    name="SUOD",
    description="Trains several detectors with random projection and model approximation, then combines their scores.",
    category="ensemble",
    speed="slow",
    memory="high",
    best_for="Accuracy through diversity when no single detector is clearly right; batch rather than per-point use.",
    params=SUODParams,
    build=SUODDetector,
    requires=("suod",),
    install_hint="Install the extra: pip install 'anomd[suod]' (or uv sync --extra suod).",
    # LOF uses 20 neighbours and kNN 5; each needs one row more than its neighbourhood.
    min_samples=lambda params: 21 if "lof" in params.base_estimators else 6,
    memory_cost=MEMORY,
)


@anomd.hookimpl
def register_detectors(register):
    register(SPEC)
