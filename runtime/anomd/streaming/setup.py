"""From a stream's configuration to the parts it runs with: detector, transforms, post-processor.

A configuration is plain data; this resolves its names against the installed plugins and
validates everything a client chose (an unknown backend or transform, bad params or options, a
``min_samples`` the backend cannot fit on) before any point is accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from anomd.backend_catalog import resolve_backend
from anomd.detectors import DetectorSpec
from anomd.errors import InvalidInput, NotFound
from anomd.postprocessors import Postprocessor, PostprocessorSpec
from anomd.settings import Settings
from anomd.streaming.config import StreamConfig
from anomd.streaming.features import TransformStep
from anomd.streaming.training import FitJob

#: ``{"postprocessor": "none"}``: publish the model's standardised score (the batch API's).
NO_POSTPROCESSOR = "none"


@dataclass(frozen=True)
class StreamSetup:
    """The resolved parts of a settled configuration.

    Attributes:
        config: The configuration, settled (pipeline chosen, every field filled in).
        spec: The detector backend.
        params: Its validated parameters (operator defaults under the client's).
        steps: The transforms, validated, options not yet settled on data.
        post: The post-processor and its validated options, or None.
    """

    config: StreamConfig
    spec: DetectorSpec
    params: msgspec.Struct
    steps: tuple[TransformStep, ...]
    post: tuple[PostprocessorSpec, msgspec.Struct] | None

    @classmethod
    def of(
        cls,
        config: StreamConfig,
        plugins: Any,
        settings: Settings | None = None,
        spec: DetectorSpec | None = None,
        default_params: Mapping[str, Any] | None = None,
    ) -> StreamSetup:
        """Resolves a settled configuration.

        Args:
            settings: The operator's rules (allow-listed backends, per-backend default params);
                None for a detector outside a server.
            spec: The backend, already resolved by the caller.
            default_params: Operator defaults for the backend's params (else from ``settings``).

        Raises:
            InvalidInput: A bad parameter, option or ``min_samples``.
            NotFound: An unknown backend or post-processor.
        """
        if spec is None or spec.id != config.backend:
            spec = resolve_backend(plugins, settings, config.backend)
        if default_params is None and settings is not None:
            default_params = settings.backend_defaults.get(spec.id, {})
        params = spec.parse_params({**(default_params or {}), **config.params})
        needed = spec.min_samples(params)
        if config.min_samples is not None and config.min_samples < needed:
            raise InvalidInput(
                f"backend {spec.id!r} needs at least {needed} rows with these params; "
                f"min_samples is {config.min_samples}"
            )
        return cls(config, spec, params, config.steps(plugins.transforms),
                   postprocessor(config.postprocessor, plugins))

    def job(self, columns: tuple[str, ...], timed: bool) -> FitJob:
        """What every fit of this stream needs (picklable, for worker processes)."""
        config = self.config
        return FitJob(
            backend=self.spec.id, build=self.spec.build, params=self.params,
            contamination=config.contamination, threshold=config.threshold,  # type: ignore[arg-type]
            columns=columns, steps=self.steps, window_size=config.window_size, timed=timed,
        )

    def new_postprocessor(self) -> Postprocessor | None:
        """A fresh post-processor state (None: the model's own score is published)."""
        if self.post is None:
            return None
        spec, options = self.post
        return spec.build(options)


def postprocessor(request: Mapping[str, Any] | None, plugins: Any) -> tuple[PostprocessorSpec, msgspec.Struct] | None:
    """The post-processor a configuration names, with its options validated (None for none).

    Raises:
        InvalidInput: Not an object naming one, or bad options.
        NotFound: No plugin registered that id.
    """
    if request is None:
        return None
    name = request.get("postprocessor") if isinstance(request, Mapping) else None
    if not isinstance(name, str):
        raise InvalidInput(
            'postprocessor must be an object with a "postprocessor" name, e.g. {"postprocessor": "likelihood"}'
        )
    if name == NO_POSTPROCESSOR:
        return None
    spec = plugins.postprocessors.get(name)
    if spec is None:
        known = ", ".join([NO_POSTPROCESSOR, *plugins.postprocessors])
        raise NotFound(f"unknown postprocessor {name!r}; available: {known}")
    return spec, spec.parse_options({k: v for k, v in request.items() if k != "postprocessor"})


def check_given(config: StreamConfig, plugins: Any, settings: Settings | None, spec: DetectorSpec | None) -> None:
    """Validates what a client chose in a configuration whose pipeline is not settled yet.

    ``params`` without a ``backend`` belong to whichever pipeline's detector the first point
    brings; they are refused now only if no pipeline's detector accepts them.
    """
    from anomd.streaming.pipelines import DEFAULTS

    if config.backend is not None:
        spec = spec or resolve_backend(plugins, settings, config.backend)
        spec.parse_params(config.params)
    elif config.params:
        errors = []
        for backend in dict.fromkeys(d["backend"] for d in DEFAULTS.values()):
            try:
                resolve_backend(plugins, None, backend).parse_params(config.params)
            except InvalidInput as exc:
                errors.append(exc)
        if len(errors) == len(DEFAULTS):
            raise errors[0]
    config.steps(plugins.transforms)
    postprocessor(config.postprocessor, plugins)
