"""What made a result, read back from the store: the 2D source, fusion, text encoder, teacher, student,
affinities, protocol and package version.

Everything comes from what the groups recorded when they were written (their ``config``, ``inputs``,
``source_identity`` and metadata), never from the current config, so a report says what made its
numbers even after the config changed. Torch-free: attrs only, no arrays, no models.
"""

from __future__ import annotations

import json
from pathlib import Path

from geopurify import __version__
from geopurify.pipeline.errors import StoreError
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import (
    AFFINITY_STUDENT, FUSED, POINTS, PURIFIED, STUDENT, TEACHER, model_group, purified_group, scene_folder,
    scene_group, text_group,
)
from geopurify.stages.fuse.sources.simulated_config import NOISE_KEYS

RESULT_GROUPS = (FUSED, purified_group("geometric"), PURIFIED, purified_group("oracle"))
"""Result groups of a scene in report order; other ``purified_*`` groups follow, sorted."""

SIMULATED_NOTE = ("These 2D features were simulated from the ground-truth labels (rendered into each "
                  "view and degraded the way a vision-language model errs), not computed by a "
                  "vision-language model: the numbers measure the 3D steps on a benchmark input.")


def result_groups(store: Store, scene_id: str) -> list[str]:
    """The complete result groups (``fused``, ``purified*``) of a scene, in report order."""
    scene = store.group(scene_folder(scene_id))
    present = sorted(scene.group_keys()) if scene is not None else []
    found = [g for g in present if (g == FUSED or g.startswith(PURIFIED))
             and store.attrs(scene_group(scene_id, g)).get("complete")]
    return [g for g in RESULT_GROUPS if g in found] + [g for g in found if g not in RESULT_GROUPS]


def agreed(by_key: dict):
    """The one value all entries share, else ``{"differs": by_key}`` (said, never hidden)."""
    values = {json.dumps(v, sort_keys=True) for v in by_key.values()}
    if len(values) == 1:
        return next(iter(by_key.values()))
    return {"differs": by_key}


def _attrs(store: Store, scene_id: str, group: str) -> dict:
    return store.attrs(scene_group(scene_id, group))


def group_affinity(store: Store, scene_ids: list[str], group: str) -> str | None:
    """The affinity a purified group was made with (its own record), ``None`` for ``fused``."""
    if group == FUSED:
        return None
    found = agreed({s: _attrs(store, s, group).get("affinity", "not recorded") for s in scene_ids})
    return found if isinstance(found, str) else "mixed"


def method_names(store: Store, scene_ids: list[str], groups: list[str]) -> dict[str, str]:
    """Group -> the name a report shows: ``lift-only``, or ``<affinity> pooling`` from the group's
    recorded affinity (the group name is added where two groups would read the same)."""
    names = {g: "lift-only" if g == FUSED else f"{group_affinity(store, scene_ids, g)} pooling"
             for g in groups}
    clash = {n for n in names.values() if list(names.values()).count(n) > 1}
    return {g: f"{n} [{g}]" if n in clash else n for g, n in names.items()}


# ---- one part each ---------------------------------------------------------------------------------
def source_of(fused: dict) -> dict:
    """The 2D source a fused group recorded: openclip (model, checkpoint and its content hash),
    precomputed (the folder) or simulated (preset, every noise value, seed)."""
    cfg = fused.get("config", {}).get("fuse", {})
    ident = fused.get("source_identity", {})
    kind = cfg.get("source") or ident.get("source") or ident.get("kind") or "not recorded"
    if kind == "simulated":
        params = ident.get("params") or cfg.get("simulated", {})
        return {"kind": "simulated", "preset": params.get("preset"), "seed": params.get("seed"),
                "noise": {k: params.get(k) for k in NOISE_KEYS},
                "virtual_views": {k: params.get(k) for k in ("virtual_views", "virtual_width")},
                "note": SIMULATED_NOTE}
    if kind == "openclip":
        weights = ident.get("weights", {})
        return {"kind": "openclip", "model": ident.get("model", cfg.get("openclip", {}).get("model")),
                "checkpoint": cfg.get("openclip", {}).get("checkpoint", "not recorded"),
                "weights": weights.get("kind"),
                "checkpoint_fingerprint": weights.get("sha") or weights.get("tag") or weights.get("kind"),
                "image_size": ident.get("image_size"), "dense": ident.get("dense")}
    if kind == "precomputed":
        return {"kind": "precomputed", "folder": cfg.get("precomputed_dir") or "not recorded"}
    return {"kind": kind}


def fusion_of(fused: dict) -> dict:
    cfg = fused.get("config", {}).get("fuse", {})
    out = {"mode": cfg.get("mode"), "frame_stride": cfg.get("frame_stride"),
           "depth_test": cfg.get("use_depth"), "vocab": cfg.get("vocab")}
    if cfg.get("mode") == "consensus":
        out["topk"] = cfg.get("topk")
    return out


def text_encoder_of(store: Store, vocab: str) -> dict:
    attrs = store.attrs(text_group(vocab))
    if not attrs.get("complete"):
        return {"kind": "not recorded", "note": f"no text/{vocab} group"}
    enc = dict(attrs.get("encoder", {}))
    weights = enc.pop("weights", None)
    if isinstance(weights, dict):
        enc["weights"] = weights.get("kind")
        enc["checkpoint_fingerprint"] = weights.get("sha") or weights.get("tag") or weights.get("kind")
    return enc


def teacher_of(store: Store, record: dict) -> dict:
    """The teacher the student distilled from: the training scenes' teacher groups, checked to be
    the ones the student recorded."""
    by_scene = {}
    for scene, inputs in (record.get("inputs") or {}).items():
        attrs = _attrs(store, scene, TEACHER)
        if not attrs.get("complete") or attrs.get("fingerprint") != inputs.get(TEACHER):
            by_scene[scene] = {"kind": "not recorded",
                               "note": f"{scene}/teacher changed since the student was trained"}
            continue
        entry = {"kind": attrs.get("kind")}
        if attrs.get("kind") in ("ssl", "ptv3"):
            entry["checkpoint"] = attrs.get("config", {}).get("teacher", {}).get("checkpoint")
            entry["checkpoint_fingerprint"] = attrs.get("inputs", {}).get("checkpoint")
        if attrs.get("zeros_fed"):  # ptv3 fed zeros for what the scan lacks (teacher.ptv3_missing)
            entry["zeros_fed"] = attrs["zeros_fed"]
        if attrs.get("without_color"):
            entry["without_color"] = attrs["without_color"]
        by_scene[scene] = entry
    if not by_scene:
        return {"kind": "not recorded", "note": "the student's record names no training scene"}
    return agreed(by_scene)


def student_of(store: Store, scene_ids: list[str], group: str) -> dict:
    """The student a student-affinity group pooled with: its fingerprint (as purify recorded it),
    where it lives, and the training scenes, steps and teacher of its record."""
    used = agreed({s: _attrs(store, s, group).get("inputs", {}).get(STUDENT) for s in scene_ids})
    where = agreed({s: _attrs(store, s, group).get("config", {}).get("purify", {}).get("student", "")
                    for s in scene_ids})
    where = where if isinstance(where, str) and where else store.path
    out = {"fingerprint": used, "location": where}
    if Path(where).is_file():
        return {**out, "note": "a student file; its training record stays inside the file"}
    try:
        home = store if where == store.path else Store(where, create=False)
    except StoreError:
        return {**out, "note": "the store that held the student is gone"}
    record = home.attrs(model_group())
    if not record.get("complete") or record.get("fingerprint") != used:
        return {**out, "note": "the student there was retrained since this result was made"}
    training = record.get("training", {})
    return {**out, "training_scenes": record.get("scenes"), "steps": training.get("steps"),
            "epochs": training.get("epochs"), "teacher": teacher_of(home, record)}


def result_of(store: Store, scene_ids: list[str], group: str, name: str) -> dict:
    out = {"method": name, "group": group, "affinity": group_affinity(store, scene_ids, group)}
    if group != FUSED:
        cfg = agreed({s: _attrs(store, s, group).get("config", {}).get("purify", {}) for s in scene_ids})
        keys = ("k", "steps", "temperature", "voxel_size", "keep_features")
        keys += {"geometric": ("geo_position_scale", "geo_normal_scale", "geo_color_scale"),
                 AFFINITY_STUDENT: ("student_position_scale",)}.get(out["affinity"], ())
        out["settings"] = {k: cfg.get(k) for k in keys} if "differs" not in cfg else cfg
    return out


def scans_of(store: Store, scene_ids: list[str]) -> dict | None:
    """What the scans themselves lacked or how they were made, when anything is out of the ordinary:
    colour absent (scans without colour), points reconstructed from depth frames (method and
    settings). None when every scan is an ordinary coloured scan read as it is."""
    out = {}
    for s in scene_ids:
        attrs = _attrs(store, s, POINTS)
        entry = {}
        if attrs.get("has_color") is False:
            entry["color"] = "absent"
        if attrs.get("reconstruction"):
            rec = attrs["reconstruction"]
            entry["reconstructed"] = {k: rec.get(k) for k in ("method", "voxel_size", "sdf_trunc", "depth_max",
                                                             "frame_stride", "min_views", "library") if k in rec}
        if entry:
            out[s] = entry
    return out or None


# ---- a store, then a run of stores -------------------------------------------------------------
def store_provenance(store: Store, scene_ids: list[str], groups: list[str]) -> dict:
    """What made the results ``groups`` of ``scene_ids`` in one store."""
    fused = {s: _attrs(store, s, FUSED) for s in scene_ids}
    fusion = agreed({s: fusion_of(a) for s, a in fused.items()})
    vocab = fusion.get("vocab") if "differs" not in fusion else None
    names = method_names(store, scene_ids, groups)
    results = {g: result_of(store, scene_ids, g, names[g]) for g in groups}
    student_groups = [g for g in groups if results[g]["affinity"] == AFFINITY_STUDENT]
    student = student_of(store, scene_ids, student_groups[0]) if student_groups else None
    if student is None:
        teacher = {"kind": "none", "note": "no result here uses a student, so none depends on a teacher"}
    else:
        teacher = student.get("teacher") or {"kind": "not recorded", "note": student.get("note", "")}
    out = {"package": f"geopurify {__version__}",
            "source": agreed({s: source_of(a) for s, a in fused.items()}),
            "fusion": fusion,
            "text_encoder": text_encoder_of(store, vocab or "scannet20"),
            "teacher": teacher, "student": student,
            "affinities": [r["affinity"] for r in results.values() if r["affinity"]],
            "results": results}
    scans = scans_of(store, scene_ids)
    if scans:
        out["scans"] = scans
    return out


def run_provenance(stores: list[str], scene_ids: list[str], groups: list[str], protocol: str) -> dict:
    """One record for a run of stores (one per simulator seed): the first store's, with the
    simulator seed of every store, and any other difference between the stores named."""
    per_store = [store_provenance(Store(p, create=False), scene_ids, groups) for p in stores]
    out = {**per_store[0], "protocol": protocol, "scenes": list(scene_ids), "stores": list(stores)}
    source = out["source"]
    if source.get("kind") == "simulated":
        seeds = [p["source"].get("seed") for p in per_store]
        out["source"] = {**{k: v for k, v in source.items() if k != "seed"}, "seeds": seeds}
    def seedless(p: dict) -> dict[str, str]:
        p = {**p, "source": {k: v for k, v in p["source"].items() if k != "seed"}}
        return {k: json.dumps(v, sort_keys=True) for k, v in p.items()}

    base = seedless(per_store[0])
    differs = sorted({k for p in per_store[1:] for k, v in seedless(p).items() if v != base.get(k)})
    if differs:
        out["stores_differ_in"] = differs
    return out


# ---- in words ------------------------------------------------------------------------------------
def _short(fp) -> str:
    return f"`{fp[:16]}`" if isinstance(fp, str) else f"`{fp}`"


def _weights_words(kind, fingerprint) -> str:
    if kind == "random":
        return "random initialisation: the features carry no trained meaning"
    if kind == "tag":
        return f"pretrained tag {_short(fingerprint)}, named, not hashed"
    return f"{kind}, content fingerprint {_short(fingerprint)}"


def _source_words(src: dict) -> str:
    if "differs" in src:
        return f"**2D source differs between scenes**: {json.dumps(src['differs'], sort_keys=True)}"
    kind = src.get("kind")
    if kind == "simulated":
        seeds = src.get("seeds", [src.get("seed")])
        noise = ", ".join(f"{k} {v}" for k, v in src["noise"].items())
        word = "simulator seed" if len(seeds) == 1 else "simulator seeds"
        return (f"**2D source: simulated** (preset `{src['preset']}`, {word} {', '.join(map(str, seeds))}; "
                f"noise: {noise}). {src['note']}")
    if kind == "openclip":
        return (f"**2D source: openclip** `{src.get('model')}` (MaskCLIP dense features at "
                f"{src.get('image_size')} px), checkpoint `{src.get('checkpoint')}` "
                f"({_weights_words(src.get('weights'), src.get('checkpoint_fingerprint'))}).")
    if kind == "precomputed":
        return f"**2D source: precomputed** feature maps from `{src.get('folder')}`."
    return f"**2D source: {kind}**."


def _text_words(enc: dict) -> str:
    if enc.get("kind") == "hashed":
        return f"Text encoder: hashed ({enc.get('dim')}-d pseudo-embeddings of the class names; no model)."
    if enc.get("kind") == "openclip":
        return (f"Text encoder: openclip `{enc.get('model')}` text tower "
                f"({_weights_words(enc.get('weights'), enc.get('checkpoint_fingerprint'))}), templates "
                f"{', '.join(repr(t) for t in enc.get('templates', []))}.")
    return f"Text encoder: {json.dumps(enc, sort_keys=True)}."


def _teacher_words(teacher: dict) -> str:
    if "differs" in teacher:
        return f"Teacher differs between training scenes: {json.dumps(teacher['differs'], sort_keys=True)}."
    zeros = (f" Fed zeros for what the scans lack: {', '.join(teacher['zeros_fed'])} (teacher.ptv3_missing)."
             if teacher.get("zeros_fed") else "")
    if teacher.get("without_color"):
        zeros += f" Scans without colour: {teacher['without_color']}."
    if teacher.get("kind") in ("ssl", "ptv3"):
        return (f"Teacher (what the student distilled from): {teacher['kind']}, checkpoint "
                f"`{teacher.get('checkpoint')}` (content fingerprint "
                f"{_short(teacher.get('checkpoint_fingerprint'))}).{zeros}")
    note = f" ({teacher['note']})" if teacher.get("note") else ""
    return f"Teacher (what the student distilled from): {teacher.get('kind')}{note}.{zeros}"


def _scans_words(scans: dict | None) -> str | None:
    if not scans:
        return None
    parts = []
    for scene, entry in scans.items():
        said = []
        if entry.get("color") == "absent":
            said.append("no colour (absent, not black: the teacher and student did without it)")
        if "reconstructed" in entry:
            rec = entry["reconstructed"]
            said.append(f"points reconstructed from its depth frames ({rec.get('method')}, "
                        f"voxel {rec.get('voxel_size')} m)")
        parts.append(f"{scene}: {'; '.join(said)}")
    return "Scans: " + "; ".join(parts) + "."


def _student_words(student: dict | None) -> str | None:
    if student is None:
        return None
    where = f"from `{student['location']}`"
    if "note" in student:
        return f"Student {_short(student['fingerprint'])} {where}: {student['note']}."
    return (f"Student {_short(student['fingerprint'])} {where}: trained on "
            f"{', '.join(student['training_scenes'] or [])} for {student['steps']} steps "
            f"({student['epochs']} epochs).")


def _result_words(r: dict) -> str:
    if r["group"] == FUSED:
        return "lift-only (`fused`, no pooling)"
    settings = r.get("settings", {})
    extra = ("; uses the ground-truth labels: a ceiling, not a method" if r["affinity"] == "oracle" else "")
    return (f"{r['method']} (`{r['group']}`, affinity {r['affinity']}, k {settings.get('k')}, "
            f"{settings.get('steps')} steps{extra})")


def describe(prov: dict) -> list[str]:
    """The record in sentences, one per part (Markdown): the report opens with them."""
    fusion = prov["fusion"]
    fusion_words = (f"Fusion: {json.dumps(fusion['differs'], sort_keys=True)}" if "differs" in fusion else
                    "Fusion: not recorded (no fused group)." if fusion.get("mode") is None else
                    f"Fusion: {fusion['mode']}" + (f" (top-{fusion['topk']} views)" if "topk" in fusion else "")
                    + f", frame stride {fusion['frame_stride']}, depth test {'on' if fusion['depth_test'] else 'off'},"
                    f" vocabulary `{fusion['vocab']}`.")
    lines = [_source_words(prov["source"]), fusion_words, _text_words(prov["text_encoder"]),
             _teacher_words(prov["teacher"]), _student_words(prov["student"]), _scans_words(prov.get("scans")),
             "Results: " + "; ".join(_result_words(r) for r in prov["results"].values()) + ".",
             f"Protocol `{prov['protocol']}`; scenes: {', '.join(prov['scenes'])}; "
             f"{len(prov['stores'])} store(s); {prov['package']}."]
    if prov.get("stores_differ_in"):
        lines.append(f"**The stores differ in**: {', '.join(prov['stores_differ_in'])}.")
    return [line for line in lines if line]


def comment_line(provenance: dict) -> str:
    """The record as one line of ASCII JSON (a PLY header comment)."""
    return "geopurify-provenance " + json.dumps(provenance, sort_keys=True, separators=(",", ":"))
