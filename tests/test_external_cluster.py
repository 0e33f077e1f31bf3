"""An external Dask cluster (``dask scheduler`` and two single-thread ``dask worker`` processes on
127.0.0.1, started and stopped here) writes the same store as the threaded scheduler, array for
array, even given a relative ``--store``; and which torch thread count trained a student changes its
weights, so the count is part of the student's fingerprint."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import geopurify
from geopurify.pipeline.schedule import store_for_scheduler
from geopurify.pipeline.vocabulary import FUSED, POINTS
from geopurify.workflows.run_all import run_all

from test_workflows import arrays
from workflow_fixtures import small_config, write_scenes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def external_cluster(workdir: Path, workers: int = 2):
    """A scheduler and ``workers`` single-thread workers as separate processes, run from
    ``workdir`` (not the test's folder); yields the scheduler's address, stops them all after."""
    address = f"tcp://127.0.0.1:{_free_port()}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(geopurify.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_OFFLINE": "1"}
    dask = [sys.executable, "-m", "dask"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": workdir, "env": env}
    procs = [subprocess.Popen(dask + ["scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                                      "--no-dashboard"], **quiet)]
    try:
        for _ in range(workers):
            procs.append(subprocess.Popen(dask + ["worker", address, "--nthreads", "1", "--nworkers", "1",
                                                  "--no-dashboard", "--local-directory", str(workdir)], **quiet))
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        deadline = time.monotonic() + 30
        for proc in procs:
            try:
                proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_a_relative_store_becomes_absolute_only_for_a_remote_scheduler(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert store_for_scheduler("s.zarr", "tcp://10.0.0.1:8786") == str(tmp_path / "s.zarr")
    assert store_for_scheduler("s.zarr", "threads") == "s.zarr"
    assert store_for_scheduler("/abs/s.zarr", "tcp://h:1") == "/abs/s.zarr"
    assert store_for_scheduler("s3://bucket/s.zarr", "tcp://h:1") == "s3://bucket/s.zarr"


@pytest.mark.slow
def test_two_single_thread_workers_write_the_threaded_runs_store(tmp_path, monkeypatch):
    write_scenes(tmp_path / "data")
    threaded = small_config(tmp_path, tmp_path / "data", store="threads.zarr")
    result = run_all(threaded)
    assert not result.failed, [(o.stage, o.scene, o.error) for o in result.failed]

    workers_home = tmp_path / "workers"
    workers_home.mkdir()
    monkeypatch.chdir(tmp_path)  # the store is given relative to here; the workers run elsewhere
    with external_cluster(workers_home) as address:
        remote = small_config(tmp_path, tmp_path / "data", store="x.zarr")
        remote = dataclasses.replace(remote, store="tcp.zarr", run=dataclasses.replace(remote.run, scheduler=address))
        result = run_all(remote)
    assert not result.failed, [(o.stage, o.scene, o.error) for o in result.failed]
    assert result.stores == [str(tmp_path / "tcp.zarr")]
    assert not (workers_home / "tcp.zarr").exists()  # no stray store where the workers run

    a, b = arrays(threaded.store), arrays(tmp_path / "tcp.zarr")
    assert set(a) == set(b) and any(k.startswith("student/") for k in a)
    differ = sorted(k for k in a if not np.array_equal(a[k], b[k]))
    assert differ == [], f"{len(differ)} of {len(a)} arrays differ, first {differ[:3]}"


@pytest.mark.slow
def test_the_torch_thread_count_changes_the_weights_and_the_fingerprint(tmp_path):
    from distill_fixtures import make_store

    from geopurify.stages.distill.config import DistillConfig
    from geopurify.stages.distill.train import distill
    from geopurify.stages.distill.weights import read_student, state_arrays

    tiny = dict(epochs=2, width=16, blocks=1, anchors=512, neighbours=32, lr=3e-3)
    runs = {}
    for threads in (1, 2):
        store = make_store(tmp_path / f"t{threads}", {"a": 1, "b": 2}, n=3000)
        summary = distill(store.path, ["a", "b"], DistillConfig(threads=threads, **tiny), progress=False)
        runs[threads] = (summary["fingerprint"], state_arrays(read_student(store.path)[0]))
    (fp1, w1), (fp2, w2) = runs[1], runs[2]
    # the measured fact the fingerprint rests on: other thread counts, other weights ...
    assert any(not np.array_equal(w1[k], w2[k]) for k in w1)
    # ... so the two students never share a fingerprint
    assert fp1 != fp2


def test_the_device_and_the_thread_count_enter_the_students_fingerprint():
    from geopurify.stages.distill.config import DistillConfig
    from geopurify.stages.distill.train import training_fingerprint

    inputs = {"a": {POINTS: "p", FUSED: "f", "teacher": "t"}}
    net = {"width": 16}
    base = training_fingerprint(DistillConfig(), net, inputs, "cpu")
    assert training_fingerprint(DistillConfig(), net, inputs, "cuda") != base
    assert training_fingerprint(DistillConfig(threads=1), net, inputs, "cpu") != base
    assert training_fingerprint(DistillConfig(device="cuda", mining_chunk=64), net, inputs, "cpu") == base
