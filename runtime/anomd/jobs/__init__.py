"""Jobs: scoring whole datasets and fitting one model per entity on a Dask cluster.

A job reads Parquet or CSV files (a path, folder or glob, local or ``s3://``), splits the work
by file (a partition) and runs it on Dask workers: a ``LocalCluster`` on 127.0.0.1 by default,
or an existing cluster by scheduler address. Workers read models from anomd's own store by name
and verify their signatures themselves; the client never ships a pickled model.

Modules, one idea each:

- :mod:`~anomd.jobs.spec`: what a caller asks for (``JobRequest``) and its checks.
- :mod:`~anomd.jobs.records`: a job's state as stored and shown (``JobRecord``, ``Progress``).
- :mod:`~anomd.jobs.store`: job records and cancel marks in anomd's Storage plugin.
- :mod:`~anomd.jobs.locations`: input and output URIs, globs, listing partitions.
- :mod:`~anomd.jobs.dataset`: reading a partition, writing one output file atomically.
- :mod:`~anomd.jobs.groups`: per-entity model names.
- :mod:`~anomd.jobs.worker`: what a worker process keeps between tasks (plugins, model store).
- :mod:`~anomd.jobs.tasks`: the functions that run on workers.
- :mod:`~anomd.jobs.cluster`: starting or joining a Dask cluster (``distributed`` is optional).
- :mod:`~anomd.jobs.runner`: one job from start to end: tasks, progress, faults, clean-up.
- :mod:`~anomd.jobs.manager`: the server's queue of jobs, heartbeats and shutdown.

Nothing here imports ``distributed`` at import time; :mod:`~anomd.jobs.cluster` does, with an
install hint when it is missing.
"""
