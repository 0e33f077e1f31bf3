"""Where a trained student lives, and how it is read back.

- ``models/student/`` in the run store: one array per state-dict tensor (name as in the state dict,
  0-d tensors stored with shape (1,)), attrs: ``network`` (the rebuild config), ``config`` (the
  distill config), ``training`` (scenes, steps, losses), ``inputs`` (the fingerprints of each training
  scene's points, fused and teacher groups), ``fingerprint``, ``complete`` last.
- ``--out student.pt``: ``torch.save`` of a dict with ``state_dict``, ``network``, ``config``,
  ``inputs`` and ``fingerprint`` (the same record, as one file to copy elsewhere).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from geopurify.pipeline.errors import InputError, StoreError
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import model_group
from geopurify.stages.training.files import atomic_save, load_checkpoint

from .network import StudentNet, build_student


def state_arrays(model: torch.nn.Module) -> dict[str, np.ndarray]:
    out = {}
    for name, t in model.state_dict().items():
        a = t.detach().cpu().numpy()
        out[name] = a.reshape(1) if a.ndim == 0 else a
    return out


def write_student(store: Store, model: torch.nn.Module, attrs: dict, path: str = model_group()) -> None:
    """Write the weights and attrs as one store group (complete flag set last by the store)."""
    store.write_group(path, state_arrays(model), attrs)


def _load_state(model: StudentNet, arrays: dict[str, np.ndarray]) -> StudentNet:
    own = model.state_dict()
    missing = set(own) - set(arrays)
    if missing:
        raise StoreError(f"student weights lack {sorted(missing)[0]!r} (and {len(missing) - 1} more)")
    state = {k: torch.from_numpy(np.asarray(arrays[k])).reshape(own[k].shape) for k in own}
    model.load_state_dict(state)
    return model.eval()


def read_student(store_path: str, device: str | torch.device = "cpu",
                 path: str = model_group()) -> tuple[StudentNet, dict]:
    """The trained student (eval mode, on ``device``) and its attrs, from a run store."""
    store = Store(store_path, create=False)
    attrs = store.require_done(path, "the trained student (run `distill`)")
    model = build_student(attrs["network"], "cpu")
    _load_state(model, {name: store.read(path, name) for name in store.array_names(path)})
    model.net_cfg = dict(attrs["network"])
    return _to(model, device), attrs


def export_student(file: str | Path, model: torch.nn.Module, record: dict) -> Path:
    """``torch.save`` the weights with their record (written to a temp name, then renamed)."""
    file = Path(file)
    file.parent.mkdir(parents=True, exist_ok=True)
    return atomic_save({"state_dict": {k: v.cpu() for k, v in model.state_dict().items()}, **record}, file)


def load_student_file(file: str | Path, device: str | torch.device = "cpu") -> tuple[StudentNet, dict]:
    """The student from an exported ``.pt`` file, and its record (network, config, inputs, ...); read
    as tensors and plain data only, so a file holding pickled objects is refused."""
    blob = load_checkpoint(file, "student weights file")
    if not isinstance(blob.get("network"), dict) or not isinstance(blob.get("state_dict"), dict):
        raise InputError(file, "not a student weights file written by distill (no network or state_dict)")
    net_cfg, state = blob["network"], blob["state_dict"]
    model = build_student(net_cfg, "cpu")
    _load_state(model, {k: v.numpy() for k, v in state.items()})
    model.net_cfg = dict(net_cfg)
    return _to(model, device), {k: v for k, v in blob.items() if k != "state_dict"}


def _to(model: StudentNet, device: str | torch.device) -> StudentNet:
    from geopurify.stages import sparse

    device = torch.device(device)
    sparse.set_conv_algo(model, sparse.conv_algo_for(device))
    return model.to(device)
