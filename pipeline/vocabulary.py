"""The store's vocabulary: every group name, array name, scene group path and run-log outcome.

No other module spells these strings (``tests/test_vocabulary.py`` checks): a stage, a report or a
test that needs the fused features of a scene writes ``scene_group(scene, FUSED)`` and reads
``FEAT``, so a rename happens here once and a typo fails at import, not as an empty read.

The command a user types (``fuse``) names the stage; the group it writes is a noun (``fused``):
``COMMAND_GROUP`` maps one to the other.
"""

from __future__ import annotations

# ---- top-level folders of a store ------------------------------------------------------------
SCENES = "scenes"
"""``scenes/<scene>/<group>/``: per-scene results."""
TEXT = "text"
"""``text/<vocab>/``: text embeddings of one vocabulary."""
MODELS = "models"
"""``models/<name>/``: trained weights as arrays."""
LOGS = "logs"
"""``logs/``: the run log, saved tracebacks and the lock (plain files, outside the Zarr hierarchy)."""
RUN_LOG_FILE = "runs.jsonl"
TRACEBACKS = "tracebacks"

# ---- per-scene groups ------------------------------------------------------------------------
POINTS = "points"
"""The scan as ingested: coordinates, colour, normals, labels."""
FUSED = "fused"
"""2D features lifted onto the points (the ``fuse`` command)."""
TEACHER = "teacher"
"""The 3D teacher's per-point features."""
PURIFIED = "purified"
"""Student-affinity pooling: the method's own result."""
PURIFIED_PREFIX = "purified_"
"""Every other affinity's pooling sits beside it as ``purified_<affinity>``."""

STUDENT = "student"
"""The distilled student's model name (``models/student``)."""

# ---- arrays ----------------------------------------------------------------------------------
XYZ = "xyz"
RGB = "rgb"
NORMAL = "normal"
FACES = "faces"
"""Points: (F, 3) int32 vertex indices of the scan's mesh triangles (absent for a point cloud)."""
LABEL = "label"
"""Points: ground-truth ids of the dataset's own label set; purified: predicted ids."""
LABEL_PREFIX = "label_"
"""Points: ``label_<space>`` ground truth in another label space (``label_scannet200``)."""
FEAT = "feat"
SEEN = "seen"
SCORE = "score"
EMBEDDINGS = "embeddings"

# ---- run-log outcomes ------------------------------------------------------------------------
DONE = "done"
"""Computed and written by this run."""
SKIPPED = "skipped"
"""Already done with the same fingerprint: nothing computed."""
FAILED = "failed"
"""Tried and failed; the run log holds the reason (and a traceback file for an unexpected one)."""


# ---- group states (``status``) ---------------------------------------------------------------
STATE_DONE = "done"
STATE_STALE = "stale"
STATE_INCOMPLETE = "incomplete"
STATE_MISSING = "missing"
STATE_DAMAGED = "damaged"
"""Complete, but ``verify`` found a chunk that does not decode or is missing: recomputed by the next run."""
STATE_FAILED = FAILED
"""The last try failed (the run log says why)."""
STATE_NOT_NEEDED = "not needed"
"""A training scene's purify: training scenes are fused and taught, never purified."""

# ---- affinities (``purify.affinity``) ---------------------------------------------------------
AFFINITY_STUDENT = STUDENT
"""Pooling along the distilled student's affinities: the method; it writes ``purified``."""

# ---- commands and the groups they write ------------------------------------------------------
COMMAND_GROUP = {"ingest": POINTS, "fuse": FUSED, "teacher": TEACHER, "purify": PURIFIED}
"""Per-scene command -> the group it writes (purify: the student's; see ``purified_group``)."""
GROUP_COMMAND = {group: command for command, group in COMMAND_GROUP.items()}
"""Per-scene group -> the command that writes it (for "run `fuse` first" messages)."""

# ---- run-log names of the jobs that span many scenes (``all``) -------------------------------
DISTILL_JOB = "distill_student"
"""The student's distillation over the training scenes."""
TEACHER_JOB = "teacher_checkpoint"
"""The ``ssl`` teacher's pretraining, when its checkpoint does not exist yet."""


# ---- what ``tests/test_vocabulary.py`` keeps out of every other module -------------------------
FOLDERS = (SCENES, TEXT, MODELS, LOGS, RUN_LOG_FILE, TRACEBACKS)
GROUPS = (POINTS, FUSED, TEACHER, PURIFIED, PURIFIED_PREFIX, STUDENT)
ARRAYS = (XYZ, RGB, NORMAL, LABEL, LABEL_PREFIX, FEAT, SEEN, SCORE, EMBEDDINGS)
OUTCOMES = (DONE, SKIPPED, FAILED)
STATES = (STATE_DONE, STATE_STALE, STATE_INCOMPLETE, STATE_MISSING)
JOBS = (DISTILL_JOB, TEACHER_JOB)
NAMES = frozenset(FOLDERS + GROUPS + ARRAYS + OUTCOMES + STATES + JOBS)
"""Every string above: spelled as a literal anywhere else, it is a bug waiting for a rename."""


def scene_group(scene_id: str, group: str) -> str:
    """``scenes/<scene>/<group>``: the path of one scene's group inside the store."""
    return f"{SCENES}/{scene_id}/{group}"


def scene_folder(scene_id: str) -> str:
    """``scenes/<scene>``: the folder of all of one scene's groups."""
    return f"{SCENES}/{scene_id}"


def text_group(vocab: str) -> str:
    """``text/<vocab>``: the text embeddings of one vocabulary."""
    return f"{TEXT}/{vocab}"


def model_group(name: str = STUDENT) -> str:
    """``models/<name>``: a trained model's weights."""
    return f"{MODELS}/{name}"


def purified_group(affinity: str) -> str:
    """The method's own result is ``purified``; each other affinity's sits beside it."""
    return PURIFIED if affinity == AFFINITY_STUDENT else f"{PURIFIED_PREFIX}{affinity}"


def label_array(space: str) -> str:
    """``label_<space>``: ground truth of a points group in another label space."""
    return f"{LABEL_PREFIX}{space}"
