"""Files of a pretraining run (``out`` = ``teacher.pt``), all beside ``out`` and nowhere else:

- ``teacher.pt``: network config, weights and how it was made (written once, at the end);
- ``teacher.state.pt``: the training state (weights, optimiser, loss history), every epoch;
- ``teacher.loss.json`` and ``teacher.loss.png``: the loss curve, every epoch.
Each is written to a temporary name and renamed, so a kill leaves the previous one whole.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from geopurify.pipeline.errors import ConfigError, InputError
from geopurify.pipeline.fingerprint import digest
from geopurify.stages.training.curve import plot_loss_curve
from geopurify.stages.training.files import atomic_save, load_checkpoint

TEACHER_FORMAT = "geopurify-teacher"


def output_paths(out: Path) -> dict[str, Path]:
    out = Path(out)
    stem = out.name[:-3] if out.name.endswith(".pt") else out.name
    return {"checkpoint": out, "state": out.with_name(stem + ".state.pt"),
            "loss_json": out.with_name(stem + ".loss.json"), "loss_png": out.with_name(stem + ".loss.png")}


def save_checkpoint(model, path: Path, made_by: dict) -> None:
    """The teacher file: network config + weights + how it was made (no optimiser state)."""
    payload = {"format": TEACHER_FORMAT, "version": 1, "network": model.cfg.to_dict(),
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
               "made_by": made_by}
    atomic_save(payload, path)


def save_state(path: Path, identity: dict, epoch: int, model, optim, history: list[float],
               seconds: float) -> None:
    atomic_save({"identity": digest(identity), "epoch": epoch, "model": model.state_dict(),
                 "optim": optim.state_dict(), "history": history, "seconds": seconds}, path)


def load_state(path: Path, identity: dict) -> dict | None:
    """The training state to resume from (None when there is none); refuses another run's."""
    if not path.exists():
        return None
    state = load_checkpoint(path, "pretraining state", "delete it or pass --restart")
    if state.get("identity") != digest(identity):
        raise InputError(path, "training state of another recipe, seed or scan set; pass --restart "
                               "to start over")
    return state


def write_curve(paths: dict[str, Path], history: list[float], steps_per_epoch: int) -> None:
    tmp = paths["loss_json"].with_name(paths["loss_json"].name + ".tmp")
    tmp.write_text(json.dumps({"steps_per_epoch": steps_per_epoch, "loss": history}))
    os.replace(tmp, paths["loss_json"])
    epochs = [step // steps_per_epoch for step in range(len(history))]
    plot_loss_curve(history, epochs, paths["loss_png"], "ssl teacher pretraining")


def refuse_repository(path: Path) -> None:
    """Checkpoints must never land in the source tree (they would end up committed)."""
    repo = Path(__file__).resolve().parents[2]
    target = Path(path).resolve()
    if target == repo or repo in target.parents:
        raise ConfigError(f"{path}: inside the geopurify repository; write checkpoints elsewhere")
