"""``geopurify-run view``: a store's scenes in the browser, on viser (three.js in the browser, Python
here), from a headless server through an ``ssh -L`` tunnel.

A side panel holds the scene picker, the layer, the point size, the legend (a click shows one class
alone), the text box (a prompt's heat map with its top regions outlined) and the provenance of the
shown result. The store is opened read-only and never written.
"""

from __future__ import annotations

import threading

import numpy as np

from geopurify.pipeline.errors import ConfigError, StoreError
from geopurify.pipeline.store import Store

from .plots import drawing_spacing
from .view_layers import COLOUR, GROUND_TRUTH, SceneLayers, load_scene, viewable_scenes
from .view_query import Answer, Prompter, box_segments

QUERY_LAYER = "query heat map"
ALL_CLASSES = "all classes"


def camera_pose(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position, look-at): from the south, above, the whole scene in a 75 degree view."""
    lo, hi = xyz.min(axis=0), xyz.max(axis=0)
    centre = (lo + hi) / 2
    extent = float(max(hi[0] - lo[0], hi[1] - lo[1], 1.0))
    return centre + np.array([0.0, -0.55 * extent, 0.95 * extent]), centre


class Viewer:
    """One viser server showing one scene at a time (``show``); ``view.server`` is viser's."""

    def __init__(self, store_path: str, scene: str | None = None, host: str = "127.0.0.1", port: int = 8080):
        import viser

        self.store = Store(store_path, create=False)
        self.scenes = viewable_scenes(self.store)
        if not self.scenes:
            raise StoreError(f"{store_path}: no ingested scene to show")
        if scene and scene not in self.scenes:
            raise ConfigError(f"--scene {scene!r}: not an ingested scene of {store_path} "
                              f"(it has {', '.join(self.scenes[:8])}{' ...' if len(self.scenes) > 8 else ''})")
        self.lock = threading.RLock()
        self.server = viser.ViserServer(host=host, port=port, verbose=False)
        self.server.scene.set_up_direction("+z")
        self.server.gui.configure_theme(control_width="medium", show_share_button=False)
        self.server.gui.main_panel.dock_right()  # beside the 3D view, never over it
        self.data: SceneLayers | None = None
        self.prompter: Prompter | None = None
        self.answer: Answer | None = None
        self.isolated: int | None = None
        self.nodes: list = []
        self.legend_buttons: list = []
        self._build_gui()
        self.show(scene or self.scenes[0])

    # ---- the panel --------------------------------------------------------------------------
    def _build_gui(self) -> None:
        gui = self.server.gui
        self.scene_pick = gui.add_dropdown("scene", self.scenes, initial_value=self.scenes[0])
        self.layer_pick = gui.add_dropdown("layer", [COLOUR], initial_value=COLOUR)
        self.size = gui.add_slider("point size (cm)", min=0.2, max=10.0, step=0.1, initial_value=2.0)
        self.surface = gui.add_checkbox("draw the mesh surface", initial_value=False, disabled=True)
        with gui.add_folder("text query"):
            self.query_note = gui.add_markdown("")
            self.prompt = gui.add_text("prompt", initial_value="")
            self.threshold = gui.add_slider("region threshold (cosine)", min=-1.0, max=1.0, step=0.01,
                                            initial_value=0.5)
            self.query_result = gui.add_markdown("")
        self.legend_folder = gui.add_folder("legend (click: that class alone)")
        with gui.add_folder("provenance of the shown result"):
            self.provenance = gui.add_markdown("")
        self.scene_pick.on_update(lambda _: self.show(self.scene_pick.value))
        self.layer_pick.on_update(lambda _: self._layer_changed())
        self.size.on_update(lambda _: self.draw())
        self.surface.on_update(lambda _: self.draw())
        self.prompt.on_update(lambda _: self.ask(self.prompt.value))
        self.threshold.on_update(lambda _: self.ask(self.prompt.value))

    def _legend(self) -> None:
        for button in self.legend_buttons:
            button.remove()
        self.legend_buttons = []
        with self.legend_folder:
            everything = self.server.gui.add_button(ALL_CLASSES)
            everything.on_click(lambda _: self.isolate(None))
            self.legend_buttons.append(everything)
            for entry in self.data.legend:
                label = entry.name if entry.in_ground_truth else f"{entry.name} (predicted only)"
                button = self.server.gui.add_button(label, color=entry.colour)
                button.on_click(lambda _, i=entry.id: self.isolate(i))
                self.legend_buttons.append(button)

    # ---- state changes ----------------------------------------------------------------------
    def show(self, scene: str) -> None:
        """Load ``scene`` (every layer, the query features) and draw its default layer."""
        with self.lock:
            self.data = load_scene(self.store, scene)
            try:
                self.prompter = Prompter(self.store, scene, self.data.xyz)
                self.query_note.content = self.prompter.note()
                self.prompt.disabled = False
            except StoreError as exc:
                self.prompter = None
                self.query_note.content = f"No query on this scene: {exc}"
                self.prompt.disabled = True
            self.answer, self.isolated = None, None
            self.prompt.value = ""
            self.query_result.content = ""
            spacing = drawing_spacing(self.data.xyz.astype(np.float64))
            self.size.value = round(float(np.clip(150 * spacing, 0.2, 10.0)), 1)
            self.surface.disabled = self.data.faces is None
            self.surface.value = self.data.faces is not None
            self.layer_pick.options = list(self.data.layers)
            self.layer_pick.value = self.data.default_layer()
            if self.scene_pick.value != scene:
                self.scene_pick.value = scene
            self._legend()
            position, look_at = camera_pose(self.data.xyz)
            self.server.initial_camera.position = position
            self.server.initial_camera.look_at = look_at
            for client in self.server.get_clients().values():
                client.camera.position, client.camera.look_at = position, look_at
            self.draw()

    def _layer_changed(self) -> None:
        with self.lock:
            if self.layer_pick.value != QUERY_LAYER:
                self.answer = None
                self.layer_options()
            self.draw()

    def layer_options(self) -> None:
        options = list(self.data.layers) + ([QUERY_LAYER] if self.answer is not None else [])
        if tuple(options) != tuple(self.layer_pick.options):
            self.layer_pick.options = options

    def isolate(self, class_id: int | None) -> None:
        with self.lock:
            self.isolated = class_id
            self.draw()

    def ask(self, prompt: str) -> None:
        """Score ``prompt`` and show it as the query layer; an empty prompt goes back to the layer."""
        with self.lock:
            if self.prompter is None:
                return
            if not prompt.strip():
                self.answer = None
                self.query_result.content = ""
                self.layer_pick.value = self.data.default_layer()
                self.layer_options()
                self.draw()
                return
            self.answer = self.prompter.ask(prompt, self.threshold.value)
            s = self.answer.scores
            regions = "; ".join(f"{n:,} points" for _, _, n in self.answer.boxes) or "none"
            self.query_result.content = (
                f"**{prompt}** on `{self.prompter.group}` features: cosine {s.min():.2f} to {s.max():.2f}, "
                f"{100 * (s >= self.threshold.value).mean():.1f}% of points above {self.threshold.value:.2f}; "
                f"top regions (outlined): {regions}. Answered in {1000 * self.answer.seconds:.0f} ms.")
            self.layer_options()
            self.layer_pick.value = QUERY_LAYER
            self.draw()

    # ---- drawing ----------------------------------------------------------------------------
    def shown_colours(self) -> tuple[np.ndarray, str]:
        layer = self.layer_pick.value
        if layer == QUERY_LAYER and self.answer is not None:
            return self.answer.colours, layer
        layer = layer if layer in self.data.layers else self.data.default_layer()
        return self.data.layers[layer].colours, layer

    def draw(self) -> None:
        """Send the shown layer (only the isolated class's points, when one is) and its panel text."""
        with self.lock:
            data = self.data
            colours, layer = self.shown_colours()
            mask = np.ones(len(data.xyz), dtype=bool)
            isolation = data.isolation_labels(layer) if layer != QUERY_LAYER else data.isolation_labels(GROUND_TRUTH
                                                                                                       if GROUND_TRUTH in data.layers else COLOUR)
            if self.isolated is not None and isolation is not None:
                mask = isolation == self.isolated
            for node in self.nodes:
                node.remove()
            self.nodes = []
            scene = self.server.scene
            with self.server.atomic():
                if data.faces is not None and self.surface.value:
                    self.nodes.append(self._mesh(colours, mask))
                else:
                    self.nodes.append(scene.add_point_cloud(
                        "/scene/points", data.xyz[mask], colours[mask], point_size=self.size.value / 100,
                        point_shape="square", precision="float32", point_shading="flat"))
                if layer == QUERY_LAYER and self.answer is not None and self.answer.boxes:
                    segments = np.concatenate([box_segments(lo, hi) for lo, hi, _ in self.answer.boxes])
                    self.nodes.append(scene.add_line_segments("/scene/regions", segments, (40, 220, 255),
                                                              thickness=3.0, thickness_units="screen"))
            self.provenance.content = self._provenance_text(layer)

    def _mesh(self, colours: np.ndarray, mask: np.ndarray):
        import trimesh

        faces = self.data.faces[mask[self.data.faces].all(axis=1)]
        mesh = trimesh.Trimesh(self.data.xyz, faces, vertex_colors=colours, process=False)
        return self.server.scene.add_mesh_trimesh("/scene/mesh", mesh)

    def _provenance_text(self, layer: str) -> str:
        data = self.data
        if layer == QUERY_LAYER:
            group = self.prompter.group
        else:
            group = data.layers[layer].group
        if group is None:
            what = "the scan's own colour" if layer == COLOUR else "the ground-truth labels"
            return f"`{data.scene}`: {what}, as ingested ({len(data.xyz):,} points)."
        lines = data.provenance.get(group, [f"`{group}`: no provenance recorded"])
        return "\n\n".join([f"`{data.scene}` / `{group}`:"] + lines)

    def address(self) -> str:
        return f"http://{self.server.get_host()}:{self.server.get_port()}"

    def stop(self) -> None:
        self.server.stop()
