"""The demo: synthetic scenes written to disk in the ScanNet layout, then the whole pipeline."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from geopurify.pipeline.synthetic import generate_scene

from .config import RunConfig, config_from_toml

DEMO_SCENES = {"demo_eval": 100, "demo_train0": 101, "demo_train1": 102}  # scene -> generator seed


def demo_config(out_dir: Path) -> RunConfig:
    """Write the demo scenes (once) and return the packaged demo config rooted at ``out_dir``."""
    out_dir = Path(out_dir).resolve()
    data = out_dir / "data"
    for scene_id, seed in DEMO_SCENES.items():
        if not (data / scene_id).is_dir():
            generate_scene(data, scene_id, seed=seed, num_frames=12, spacing=0.06)
    config = resources.files("geopurify") / "configs" / "demo.toml"
    with resources.as_file(config) as path:
        return config_from_toml(path, out_dir)
