"""Dask scheduling of per-scene tasks: threads, processes, a local cluster or a remote one."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Callable, Iterator

import dask

from .errors import ConfigError, GeopurifyError
from .stage import Outcome, SceneStage, StageContext, run_scene

SCHEDULERS = ("threads", "processes", "local-cluster")


class ClusterError(GeopurifyError):
    """The Dask cluster failed: it did not start, or it lost a task's workers for good."""


def check_scheduler(name: str) -> None:
    if name not in SCHEDULERS and not name.startswith("tcp://"):
        raise ConfigError(f"--scheduler {name!r}: expected one of {', '.join(SCHEDULERS)} or tcp://host:port")


def store_for_scheduler(store: str, scheduler: str) -> str:
    """The store path as the scheduler's workers must see it: a relative local path becomes absolute
    for a ``tcp://`` scheduler, whose workers run in folders of their own (URLs stay as they are)."""
    if scheduler.startswith("tcp://") and store and "://" not in store and not os.path.isabs(store):
        return os.path.abspath(store)
    return store


@contextmanager
def distributed_client(scheduler: str, workers: int | None) -> Iterator:
    from distributed import Client, LocalCluster

    if scheduler == "local-cluster":
        # Dask pins worker processes to one BLAS/OpenMP thread; give them the driver's count instead,
        # so float reductions split the same way and results equal the threaded scheduler's.
        threads = os.environ.get("OMP_NUM_THREADS", str(os.cpu_count() or 1))
        environ = {k: threads for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
        with dask.config.set({"distributed.nanny.pre-spawn-environ":
                              {**dask.config.get("distributed.nanny.pre-spawn-environ", {}), **environ}}):
            cluster = _started(scheduler, lambda: LocalCluster(
                n_workers=workers or 2, threads_per_worker=1, processes=True, dashboard_address=None))
            with cluster, _started(scheduler, lambda: Client(cluster)) as client:
                yield client
    else:
        with _started(scheduler, lambda: Client(scheduler)) as client:
            yield client


def _started(scheduler: str, start: Callable):
    """``start()``, or one line saying the cluster did not start (not Dask's long traceback)."""
    try:
        return start()
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ClusterError(f"--scheduler {scheduler}: the Dask cluster failed to start "
                           f"({type(exc).__name__}{': ' + first if first else ''})") from None


def _is_lost(exc: BaseException) -> bool:
    """Whether a future's error is the cluster's (workers killed, connection lost), not the task's."""
    from distributed.scheduler import KilledWorker

    return isinstance(exc, (KilledWorker, ConnectionError, TimeoutError)) or \
        type(exc).__name__ in ("CommClosedError", "CancelledError", "FutureCancelledError")


def lost_reason(exc: BaseException, key=None) -> str:
    """One line on why the cluster could not return the result of task ``key`` (its workers were
    killed, or those of a task it needs)."""
    from distributed.scheduler import KilledWorker

    if isinstance(exc, KilledWorker):
        allowed = getattr(exc, "allowed_failures", None)
        times = f" after {allowed + 1} workers died running it" if allowed is not None else ""
        whose = "" if key is None or exc.task == key else "an upstream task was "
        return (f"{whose}lost to killed workers: Dask gave up on task {exc.task}{times} "
                "(distributed.scheduler.allowed-failures; see the workers' logs: memory limit, crash)")
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"lost on the cluster: {type(exc).__name__}{': ' + first if first else ''}"


def run_tasks(calls: list[tuple[Callable, tuple]], scheduler: str = "threads", workers: int | None = None,
              on_result: Callable[[object], None] | None = None) -> list:
    """Run independent calls as Dask tasks; results come back in input order."""
    return compute_graph([dask.delayed(fn, pure=False)(*args) for fn, args in calls],
                         scheduler, workers, on_result)


def compute_graph(tasks: list, scheduler: str = "threads", workers: int | None = None,
                  on_result: Callable[[object], None] | None = None,
                  on_lost: Callable[[int, str], object] | None = None) -> list:
    """Compute Dask delayed tasks that may depend on each other (list every node you want reported);
    results come back in input order and ``on_result`` sees each as it completes (progress bars).

    A task whose result a cluster cannot return (its workers were killed until Dask gave up) gets
    ``on_lost(index, reason)`` as its result (so does a task that raised: callers that pass
    ``on_lost`` run tasks that catch their own errors); without ``on_lost`` a lost task raises
    ``ClusterError`` (one line) and a task's own error is raised as it is."""
    check_scheduler(scheduler)
    if not tasks:
        return []
    if scheduler in ("threads", "processes"):
        from dask.callbacks import Callback

        keys = {t.key for t in tasks}

        class _Progress(Callback):
            def _posttask(self, key, result, dsk, state, id):
                if on_result is not None and key in keys:
                    on_result(result)

        with _Progress():
            return list(dask.compute(*tasks, scheduler=scheduler, num_workers=workers or 2))
    from distributed import as_completed

    with distributed_client(scheduler, workers) as client:
        futures = client.compute(tasks)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list = [None] * len(futures)
        for fut in as_completed(futures):
            i = index[fut.key]
            try:
                results[i] = fut.result()
            except Exception as exc:
                if on_lost is None:  # a task's own error stays itself; a lost task is one line
                    if _is_lost(exc):
                        raise ClusterError(lost_reason(exc, fut.key)) from None
                    raise
                results[i] = on_lost(i, lost_reason(exc, fut.key))
            if on_result is not None:
                on_result(results[i])
        return results


def run_stage_over_scenes(stage: SceneStage, ctx: StageContext, scene_ids: list[str],
                          scheduler: str = "threads", workers: int | None = None, force: bool = False,
                          on_result: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """One Dask task per scene; a failing scene is reported and the others go on."""
    ctx.store  # create (or check) the store here, once, before any worker touches it
    stage.prepare(ctx, scene_ids)
    calls = [(run_scene, (stage, ctx, sid, force)) for sid in scene_ids]
    return run_tasks(calls, scheduler, workers, on_result)
