"""The simulated 2D source and the point renderer (stages/fuse/sources/simulated.py, render.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geopurify.pipeline.errors import ConfigError, InputError
from geopurify.pipeline.scene import Frame, Scene
from geopurify.stages import labelsets
from geopurify.stages.fuse import render
from geopurify.stages.fuse.projection import to_camera
from geopurify.stages.fuse.sources.base import TextEmbeddings
from geopurify.stages.fuse.sources.simulated import SimulatedSource
from geopurify.stages.fuse.sources.simulated_config import SimulatedConfig, resolve_simulated

W, H = 160, 120
K = np.array([[140.0, 0, (W - 1) / 2], [0, 140.0, (H - 1) / 2], [0, 0, 1]])
SOFA = 6
QUIET = dict(consistent_swap_prob=0.0, consistent_hallucination_prob=0.0, view_swap_prob=0.0,
             hallucination_prob=0.0, random_swap_share=0.0, noise_std=0.0)


def text_embeddings(dim: int = 64) -> TextEmbeddings:
    ids, names = labelsets.vocabulary("scannet20")
    emb = np.random.default_rng(7).standard_normal((len(ids), dim))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return TextEmbeddings("scannet20", np.array(ids, np.int16), names, emb.astype(np.float32), {"kind": "test"})


def plane(x0, x1, y0, y1, z, step=0.02) -> np.ndarray:
    xs, ys = np.meshgrid(np.arange(x0, x1, step), np.arange(y0, y1, step))
    return np.column_stack([xs.ravel(), ys.ravel(), np.full(xs.size, z)]).astype(np.float32)


def camera(x: float, y: float = 1.0, z: float = -3.0) -> np.ndarray:
    """A camera looking along +z (the planes' normal), image x = world x, image y = world y."""
    pose = np.eye(4)
    pose[:3, 3] = [x, y, z]
    return pose


def wall_scene(label: int = SOFA, labels: bool = True, poses=None) -> Scene:
    xyz = plane(0.0, 4.0, 0.0, 2.0, 0.0)
    frames = [Frame(name, Path(f"{name}.jpg"), None, pose) for name, pose in (poses or [])]
    return Scene("wall", Path("/nowhere/wall"), xyz, np.zeros((len(xyz), 3), np.uint8),
                 labels=np.full(len(xyz), label, np.int16) if labels else None,
                 frames=frames, color_intrinsic=K.copy())


def source(**params) -> tuple[SimulatedSource, TextEmbeddings]:
    text = text_embeddings()
    cfg = SimulatedConfig(grid_width=16, render_factor=4, splat_radius=0.03, region_size=1.0,
                          **{**QUIET, **params})
    return SimulatedSource(cfg, text), text


def features_at_points(src, frame, xyz) -> tuple[np.ndarray, np.ndarray]:
    """Predicted vocabulary row at each point's grid cell in ``frame``, and which points are inside."""
    color = np.zeros((H, W, 3), np.uint8)
    feat = src.frame_features(frame, color, None)
    gh, gw = feat.shape[:2]
    Kg = render.scale_intrinsic(K, (W, H), (gw, gh))
    pc = to_camera(xyz, frame.pose, np.float64)
    u = np.rint(Kg[0, 0] * pc[:, 0] / pc[:, 2] + Kg[0, 2]).astype(int)
    v = np.rint(Kg[1, 1] * pc[:, 1] / pc[:, 2] + Kg[1, 2]).astype(int)
    inside = (u >= 1) & (u < gw - 1) & (v >= 1) & (v < gh - 1)
    pred = np.full(len(xyz), -1)
    pred[inside] = np.argmax(feat[v[inside], u[inside]] @ src.text.embeddings.T, axis=1)
    return pred, inside


# ---- renderer -------------------------------------------------------------------------------------

def test_zbuffer_keeps_the_nearest_surface():
    far = plane(-2.0, 2.0, -2.0, 2.0, 3.0)
    near = plane(-0.3, 0.3, -0.3, 0.3, 1.0)
    xyz = np.vstack([far, near])
    s = render.splat(xyz, np.eye(4), K, (W, H), radius=0.02)
    is_near = s.index >= len(far)
    # the near square projects to +-0.3/1.0*140 = +-42 px around the centre
    cy, cx = (H - 1) / 2, (W - 1) / 2
    assert is_near[int(cy) - 30:int(cy) + 30, int(cx) - 30:int(cx) + 30].all()
    assert not is_near[:, :int(cx) - 50].any() and not is_near[:, int(cx) + 50:].any()
    assert np.allclose(s.depth[is_near], 1.0) and np.allclose(s.depth[(s.index >= 0) & ~is_near], 3.0)
    # the far plane is hidden wherever the near one is, and covers the rest of the image (no holes)
    assert (s.index >= 0).all()


def test_render_values_aligns_with_projection_and_marks_empty_pixels():
    xyz = np.array([[0.0, 0.0, 2.0], [0.5, 0.25, 2.0]])
    img = render.render_values(xyz, np.array([4, 9]), np.eye(4), K, (W, H), radius=0.001, fill=-1)
    assert img[int(round(K[1, 2])), int(round(K[0, 2]))] == 4
    assert img[int(round(K[1, 2] + 140 * 0.125)), int(round(K[0, 2] + 140 * 0.25))] == 9
    assert (img == -1).sum() == W * H - 2


def test_scale_intrinsic_keeps_pixel_centres():
    Ks = render.scale_intrinsic(K, (W, H), (W // 4, H // 4))
    # the centre of full-resolution pixels 0..3 (1.5) is the centre of coarse pixel 0
    x = 1.5
    assert np.isclose((x + 0.5) / 4 - 0.5, 0.0)
    assert np.isclose(Ks[0, 2], (K[0, 2] + 0.5) / 4 - 0.5) and np.isclose(Ks[0, 0], K[0, 0] / 4)


def test_virtual_frames_look_at_the_room_from_inside():
    rng = np.random.default_rng(0)
    # a 5 x 4 x 2.6 m box room sampled on its six faces
    n = 40000
    pts = rng.uniform([0, 0, 0], [5, 4, 2.6], (n, 3))
    face = rng.integers(0, 6, n)
    for f in range(6):
        axis, side = f // 2, f % 2
        pts[face == f, axis] = [5, 4, 2.6][axis] * side
    scene = Scene("box", Path("/nowhere/box.ply"), pts.astype(np.float32), np.full((n, 3), 128, np.uint8),
                  labels=np.ones(n, np.int16))
    vs = render.virtual_frames(scene, n_views=12, seed=3, width=160)
    assert len(vs.frames) == 12 and vs.color_intrinsic.shape == (3, 3)
    for fr in vs.frames:
        pos = fr.pose[:3, 3]
        assert (pos > [0, 0, 0]).all() and (pos < [5, 4, 2.6]).all()
        assert fr.depth.shape == (120, 160) and fr.color.shape == (120, 160, 3)
        assert (fr.depth > 0).mean() > 0.95  # inside a closed room every pixel sees a wall
        assert np.allclose(fr.pose[:3, :3] @ fr.pose[:3, :3].T, np.eye(3))
    again = render.virtual_frames(scene, n_views=12, seed=3, width=160)
    assert all(np.array_equal(a.pose, b.pose) and np.array_equal(a.depth, b.depth)
               for a, b in zip(vs.frames, again.frames))


# ---- simulated source -----------------------------------------------------------------------------

def test_same_seed_gives_identical_features_other_seed_differs():
    poses = [("0", camera(1.5)), ("1", camera(2.5))]

    def run(seed):
        src, text = source(seed=seed, consistent_swap_prob=0.3, view_swap_prob=0.3, noise_std=0.5,
                           hallucination_prob=0.5, random_swap_share=0.3)
        scene = wall_scene(poses=poses)
        src.begin_scene(scene, text)
        # frames in reverse order: draws depend on the frame, not on the call order
        return [src.frame_features(f, np.zeros((H, W, 3), np.uint8), None) for f in scene.frames[::-1]]

    a, b, c = run(0), run(0), run(1)
    assert all(x.tobytes() == y.tobytes() for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])
    assert a[0].dtype == np.float32 and a[0].shape == (12, 16, 64)


def test_refuses_a_scene_without_labels():
    src, text = source()
    with pytest.raises(InputError) as err:
        src.begin_scene(wall_scene(labels=False), text)
    assert "labels" in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith("/nowhere/wall:")


def test_without_errors_the_features_are_the_labels():
    src, text = source()
    scene = wall_scene(poses=[("0", camera(2.0))])
    src.begin_scene(scene, text)
    pred, inside = features_at_points(src, scene.frames[0], scene.xyz)
    sofa_row = list(text.nyu40_ids).index(SOFA)
    assert inside.sum() > 1000 and (pred[inside] == sofa_row).all()


def test_view_consistent_swaps_repeat_in_every_view_of_a_region():
    from scipy import ndimage

    poses = [("0", camera(1.6)), ("1", camera(2.4))]
    scene = wall_scene(poses=poses)
    src, text = source(consistent_swap_prob=0.5, seed=2)
    src.begin_scene(scene, text)
    seen = src._scene.seen_labels
    sofa = list(text.nyu40_ids).index(SOFA)
    confusable = {sofa, *src.partners[sofa]}  # sofa/chair, sofa/bed
    assert sofa in seen and len(set(np.unique(seen))) > 1 and set(np.unique(seen)) <= confusable
    # points well inside a region: all points within 0.3 m share its label (the wall is a 2 cm grid)
    grid = seen.reshape(100, 200)
    interior = (ndimage.maximum_filter(grid, 31) == ndimage.minimum_filter(grid, 31)).ravel()
    p0, in0 = features_at_points(src, scene.frames[0], scene.xyz)
    p1, in1 = features_at_points(src, scene.frames[1], scene.xyz)
    both = in0 & in1 & interior
    assert both.sum() > 500 and len(np.unique(seen[both])) > 1
    assert (p0[both] == seen[both]).all() and (p1[both] == seen[both]).all()


def test_per_view_swaps_are_drawn_afresh_in_each_view():
    # the same pose under twelve frame names: only the per-view draws differ
    poses = [(str(i), camera(2.0)) for i in range(12)]
    scene = wall_scene(poses=poses)
    src, text = source(view_swap_prob=0.5, seed=5)
    src.begin_scene(scene, text)
    sofa = list(text.nyu40_ids).index(SOFA)
    assert (src._scene.seen_labels == sofa).all()  # nothing view-consistent
    centre = []
    for fr in scene.frames:
        pred, inside = features_at_points(src, fr, scene.xyz)
        classes = np.unique(pred[inside])
        assert len(classes) == 1  # the whole segment is swapped, or not
        centre.append(int(classes[0]))
    assert sofa in centre and len(set(centre)) > 1 and set(centre) <= {sofa, *src.partners[sofa]}


def test_hallucination_on_unlabelled_segments():
    scene = wall_scene(label=0, poses=[("0", camera(2.0))])  # annotated 0: outside the vocabulary
    for prob, expect_class in ((0.0, False), (1.0, True)):
        src, text = source(hallucination_prob=prob)
        src.begin_scene(scene, text)
        feat = src.frame_features(scene.frames[0], np.zeros((H, W, 3), np.uint8), None)
        best = (feat[3:-3, 3:-3] @ text.embeddings.T).max(axis=-1)
        assert (best > 0.9).all() if expect_class else (best < 0.6).all()


def test_presets_resolve_and_overrides_win():
    for name in ("realistic", "view-noise", "swaps"):
        cfg = resolve_simulated(SimulatedConfig(preset=name))
        assert cfg.grid_width > 0 and cfg.noise_std is not None
    assert resolve_simulated(SimulatedConfig(preset="swaps", noise_std=0.0)).noise_std == 0.0
    with pytest.raises(ConfigError):
        resolve_simulated(SimulatedConfig(preset="nope"))
    with pytest.raises(ConfigError):
        resolve_simulated(SimulatedConfig(view_swap_prob=1.5))


def test_a_scan_without_frames_gets_virtual_views_and_their_images():
    rng = np.random.default_rng(1)
    n = 30000
    pts = rng.uniform([0, 0, 0], [5, 4, 2.6], (n, 3))
    face = rng.integers(0, 6, n)
    for f in range(6):
        axis, side = f // 2, f % 2
        pts[face == f, axis] = [5, 4, 2.6][axis] * side
    labels = np.where(face == 4, 2, 1).astype(np.int16)  # floor (z = 0) and walls; ceiling as wall
    scene = Scene("box", Path("/nowhere/box.ply"), pts.astype(np.float32), np.zeros((n, 3), np.uint8),
                  labels=labels)
    text = text_embeddings()
    src = SimulatedSource(SimulatedConfig(virtual_views=6, virtual_width=160, **QUIET), text)
    src.begin_scene(scene, text)
    assert len(scene.frames) == 6 and scene.color_intrinsic is not None and scene.depth_intrinsic is not None
    color, depth = src.frame_images(scene.frames[0])
    assert color.shape == (120, 160, 3) and depth.shape == (120, 160)
    feat = src.frame_features(scene.frames[0], color, depth)
    best = np.argmax(feat @ text.embeddings.T, axis=-1)
    rows = {list(text.nyu40_ids).index(1), list(text.nyu40_ids).index(2)}
    assert set(np.unique(best)) <= rows


def test_depth_test_drops_points_the_sensor_does_not_see_and_holes_fill():
    far = plane(-2.0, 2.0, -2.0, 2.0, 3.0)
    depth = np.full((H, W), 3.0, np.float32)
    depth[:, : W // 2] = 1.0  # something the points do not include hides the left half
    depth[10:12, -20:-10] = 0.0  # no reading
    ok = render.depth_consistent(far, np.eye(4), depth, K, 0.05)
    pc = to_camera(far, np.eye(4), np.float64)
    u = K[0, 0] * pc[:, 0] / pc[:, 2] + K[0, 2]
    v = K[1, 1] * pc[:, 1] / pc[:, 2] + K[1, 2]
    inside = (np.abs(u - K[0, 2]) < 60) & (np.abs(v - K[1, 2]) < 40)
    assert not ok[inside & (u < W // 2 - 1)].any() and ok[inside & (u > W // 2 + 1)].all()
    img = np.full((4, 5), -2)
    img[1, 1], img[2, 4] = 7, 9
    filled = render.fill_holes(img, -2)
    assert filled[0, 0] == 7 and filled[3, 4] == 9 and (filled != -2).all()


def test_depth_tested_rendering_keeps_the_sensor_surface():
    # points: a sofa plane at 3 m; the depth image shows a nearer unlabelled surface on the left half
    # (not in the points): there the labels come from hole filling, never from hidden points behind
    scene = wall_scene(poses=[("0", camera(2.0))])
    scene.depth_intrinsic = K.copy()
    src, text = source()
    src.begin_scene(scene, text)
    depth = np.full((H, W), 3.0, np.float32)
    feat = src.frame_features(scene.frames[0], np.zeros((H, W, 3), np.uint8), depth)
    sofa = list(text.nyu40_ids).index(SOFA)
    assert (np.argmax(feat @ text.embeddings.T, -1) == sofa).all()
    depth[:] = 1.0  # the sensor sees only something else: no point is consistent, nothing labelled
    feat = src.frame_features(scene.frames[0], np.zeros((H, W, 3), np.uint8), depth)
    assert (feat @ text.embeddings.T).max() < 0.6


def test_real_frames_are_left_to_the_stage_to_read():
    src, text = source()
    assert src.frame_images(Frame("0", Path("0.jpg"), Path("0.png"), camera(2.0))) is None
