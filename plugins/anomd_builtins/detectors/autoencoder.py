"""Autoencoder (PyOD, PyTorch): reconstruction error of a small dense network.

Needs the optional PyTorch dependency. Torch runs on one thread: on a 2-core machine that is
5-13x faster than its default thread pool for networks this small, and it leaves the other core
to the server.
"""

from __future__ import annotations

import threading
from typing import Annotated

import msgspec
import numpy as np

import anomd
from anomd.detectors import CELL, DetectorSpec, MemoryCost

from ._pyod import PyODDetector
from ._range_tails import TailParam


class AutoEncoderParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    epochs: Annotated[int, msgspec.Meta(ge=1, le=10_000, description="Training epochs.")] = 10
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=65_536)] = 32
    hidden_neurons: Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=4096)]], msgspec.Meta(min_length=1, max_length=16)] = msgspec.field(
        default_factory=lambda: [64, 32]
    )
    learning_rate: Annotated[float, msgspec.Meta(gt=0, le=1)] = 1e-3
    dropout_rate: Annotated[float, msgspec.Meta(ge=0, lt=1)] = 0.2
    batch_norm: bool = True
    preprocessing: bool = True
    random_state: int = 42
    tail: TailParam = "extrapolated"


#: PyOD seeds torch's, NumPy's and ``random``'s *global* generators. Fits hold this lock from
#: seeding to the end of training, so concurrent fits cannot draw from each other's streams and a
#: given ``random_state`` always gives the same network.
_SEEDED_TRAINING = threading.Lock()


class AutoEncoderDetector(PyODDetector):
    """Builds the PyOD AutoEncoder lazily so that importing this plugin never imports torch.

    A network that learnt to reproduce a direction reconstructs a far value along it well, so
    its error can fall as a value moves out (measured: a 2-feature model scored 8 sigma lower
    than 2 sigma). With ``tail="extrapolated"`` values beyond the training range are scored on
    its end plus the tail term (``_range_tails``).
    """

    clip_beyond_range = True

    def __init__(self, params: AutoEncoderParams, contamination: float) -> None:
        import torch
        from pyod.models.auto_encoder import AutoEncoder

        torch.set_num_threads(1)
        self.seed = params.random_state
        super().__init__(
            AutoEncoder(
                contamination=contamination, epoch_num=params.epochs, batch_size=params.batch_size,
                hidden_neuron_list=list(params.hidden_neurons), lr=params.learning_rate,
                dropout_rate=params.dropout_rate, batch_norm=params.batch_norm,
                preprocessing=params.preprocessing, random_state=params.random_state,
                device="cpu", verbose=0,
            ),
            params.tail,
        )

    def fit(self, X: np.ndarray) -> AutoEncoderDetector:
        # PyOD trains with drop_last=True: fewer rows than batch_size would leave no batch at all.
        # Shrinking the batch to the data keeps small fits working (at least 2 rows per batch,
        # which batch normalisation needs).
        self.estimator.batch_size = max(2, min(self.estimator.batch_size, len(X)))
        with _SEEDED_TRAINING:
            self.estimator._set_seed(self.seed)
            return super().fit(X)

    def capped_score(self, X):
        import torch

        with torch.inference_mode():
            return super().capped_score(X)


MB = 1 << 20
def _widest(params: AutoEncoderParams, d: int) -> int:
    return max([d, *params.hidden_neurons])


#: Measured: PyOD keeps a standardised copy of the matrix and feeds it through torch in batches
#: (per-row bookkeeping of about a kilobyte while training, half that while scoring; 15,000 x 10
#: through the server grew a warm process by 25-27 MB against 46 estimated: 12 MB of constant
#: next to the request's own 4), plus one batch of activations per layer; the network itself is
#: small. Scoring's constant is 4 MB: an explanation (1,000 x 40, two scorings) grew a fresh
#: process by 49-51 MB against 94 estimated with 8.
MEMORY = MemoryCost(
    fit=lambda n, d, p: 4 * n * d * CELL + 1100 * n
    + 4 * p.batch_size * _widest(p, d) * len(p.hidden_neurons) * CELL + 12 * MB,
    score=lambda m, d, n, p: 2 * m * d * CELL + 500 * m
    + 4 * p.batch_size * _widest(p, d) * len(p.hidden_neurons) * CELL + 4 * MB,
    model=lambda n, d, p: 16 * n + 4 * sum(a * b for a, b in zip([d, *p.hidden_neurons],
                                                                 [*p.hidden_neurons, d])) * CELL + MB,
)


SPEC = DetectorSpec(
    id="autoencoder",
    name="AutoEncoder",
    description="A dense neural network learns to reconstruct normal rows; reconstruction error is the score.",
    category="neural",
    speed="slow",
    memory="medium",
    best_for="Many correlated features with non-linear structure, given enough training rows.",
    params=AutoEncoderParams,
    build=AutoEncoderDetector,
    requires=("torch", "tqdm"),
    install_hint=(
        "Install CPU PyTorch, e.g. pip install torch --index-url https://download.pytorch.org/whl/cpu "
        "(or pip install 'anomd[autoencoder]' for the default build)."
    ),
    # Batch normalisation needs at least two rows per batch.
    min_samples=lambda params: 2,
    memory_cost=MEMORY,
)


@anomd.hookimpl
def register_detectors(register):
    register(SPEC)
