"""bench/gpu_check.py: without CUDA it says so and exits 0; its comparisons run CPU against CPU."""

from __future__ import annotations

import pytest

import gpu_check  # bench/ is on sys.path (conftest)


def test_without_cuda_it_says_so_and_exits_0(monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 0
    assert "no CUDA device here" in capsys.readouterr().out


@pytest.mark.slow
def test_the_dry_run_compares_every_path_cpu_against_cpu(tmp_path, capsys):
    assert gpu_check.main(["--cpu-only-dry-run", "--tiny", "--work", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for path in ("openclip", "ptv3", "distill", "student", "pooling"):
        [line] = [line for line in out.splitlines() if line.startswith(path)]
        assert " ok " in line, line
    assert "max |cpu - device| 0.00e+00" in out  # the same device: identical results
    assert "labels equal 100.0000%" in out
    assert "every path agrees with the CPU" in out
