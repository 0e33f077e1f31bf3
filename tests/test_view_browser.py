"""The viewer in a real headless Chromium: the scene is drawn where it should be in the chosen layer's
class colours, switching the layer changes the picture, typing ``chair`` lights up the chairs, a
legend click shows one class alone; the static export draws the scene from a ``file://`` address.
Skipped, with the reason, where no browser can start (see ``browser.py``)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from geopurify.pipeline.store import Store
from geopurify.stages.labelsets import class_colours

from browser import colour_count, foreground, launch, pixels, project, share_inside, sync_playwright
from view_fixture import CHAIR, FLOOR, SCENE, TABLE, free_port, write_view_store

pytestmark = pytest.mark.slow  # a real browser starts: seconds per test

VIEWPORT = {"width": 1200, "height": 800}


def wait_for(predicate, what: str, timeout: float = 30.0):
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def settled(shoot, timeout: float = 30.0) -> np.ndarray:
    """A screenshot once two in a row agree and something is drawn (the renderer has caught up)."""
    end, last = time.time() + timeout, None
    while time.time() < end:
        img = pixels(shoot())
        if last is not None and np.array_equal(img, last) and foreground(img).sum() > 2000:
            return img
        last = img
        time.sleep(0.4)
    raise AssertionError("the picture never settled")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return write_view_store(tmp_path_factory.mktemp("view") / "s.zarr")


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def live(store, browser):
    from geopurify.workflows.view_server import Viewer

    viewer = Viewer(str(store), port=free_port())
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(viewer.address())
    wait_for(lambda: viewer.server.get_clients(), "the page to connect")
    page.wait_for_selector("canvas")
    toast = page.locator("#webgl-software-rendering .mantine-Notification-closeButton")
    if toast.count():
        toast.click()
    canvases = page.locator("canvas")
    canvas = max((canvases.nth(i) for i in range(canvases.count())),
                 key=lambda c: (c.bounding_box() or {"width": 0})["width"])
    yield viewer, page, canvas
    page.close()
    viewer.stop()


def client_projection(viewer, canvas, xyz):
    box = canvas.bounding_box()
    camera = next(iter(viewer.server.get_clients().values())).camera
    return project(camera, xyz, int(round(box["width"])), int(round(box["height"])))


def sample(img: np.ndarray, uv: np.ndarray) -> np.ndarray:
    ok = np.isfinite(uv).all(axis=1)
    uv = np.round(uv[ok]).astype(int)
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < img.shape[1]) & (uv[:, 1] >= 0) & (uv[:, 1] < img.shape[0])
    return img[uv[inside, 1], uv[inside, 0]]


def text_box(page, label: str):
    """viser's text field: the input in the closest row around its label (the label's ``for`` names
    no element)."""
    return page.locator(f"xpath=//label[text()='{label}']/ancestor::div[.//input][1]//input").first


def choose_layer(page, viewer, name: str) -> None:
    page.get_by_label("layer", exact=True).click()
    page.get_by_role("option", name=name, exact=True).click()
    wait_for(lambda: viewer.layer_pick.value == name, f"the layer {name!r}")


def test_view_draws_the_scene_in_the_layers_class_colours(live, store):
    viewer, page, canvas = live
    img = settled(canvas.screenshot)
    xyz = viewer.data.xyz
    uv = client_projection(viewer, canvas, xyz)
    box = (np.nanmin(uv[:, 0]), np.nanmin(uv[:, 1]), np.nanmax(uv[:, 0]), np.nanmax(uv[:, 1]))
    fg = foreground(img)
    assert fg.sum() > 0.05 * fg.size, "almost nothing drawn"
    assert share_inside(fg, box) > 0.8, f"drawn pixels outside the scene's extent {box}"
    layer = viewer.data.layers[viewer.layer_pick.value]
    assert layer.group == "purified_geometric"
    ids, counts = np.unique(layer.labels, return_counts=True)
    for i in ids[counts > 0.05 * len(layer.labels)]:
        colour = class_colours(np.array([i]))[0]
        assert colour_count(img, colour) > 200, f"class {i}'s colour {colour} is not on the screen"


def test_switching_the_layer_changes_the_picture(live):
    viewer, page, canvas = live
    before = settled(canvas.screenshot)
    choose_layer(page, viewer, "colour")
    after = settled(canvas.screenshot)
    changed = np.abs(after.astype(int) - before.astype(int)).max(axis=2) > 20
    assert changed.sum() > 0.5 * foreground(before).sum()
    floor_rgb = np.median(viewer.data.layers["colour"].colours[viewer.data.layers["ground truth"].labels == FLOOR], 0)
    assert colour_count(after, floor_rgb, tolerance=20) > 1000, "the scan's own floor colour is not shown"
    choose_layer(page, viewer, viewer.data.default_layer())


def test_typing_chair_lights_up_the_chair_points(live, store):
    viewer, page, canvas = live
    before = settled(canvas.screenshot)
    box = text_box(page, "prompt")
    box.fill("chair")
    box.press("Enter")
    wait_for(lambda: viewer.answer is not None and viewer.answer.prompt == "chair", "the answer to 'chair'")
    after = settled(canvas.screenshot)
    assert np.abs(after.astype(int) - before.astype(int)).max(axis=2).sum() > 0
    gt = Store(store, create=False).read(f"scenes/{SCENE}/points", "label")
    uv = client_projection(viewer, canvas, viewer.data.xyz)
    # the chair's top faces the camera (the floor under it is hidden): sample its points above 25 cm
    top = viewer.data.xyz[:, 2] > 0.25
    lum = lambda rgb: rgb.astype(float) @ [0.299, 0.587, 0.114]  # noqa: E731
    chair = lum(sample(after, uv[(gt == CHAIR) & top])).mean()
    floor = lum(sample(after, uv[gt == FLOOR])).mean()
    table = lum(sample(after, uv[(gt == TABLE) & top])).mean()
    assert chair > floor + 60 and chair > table + 30, (chair, floor, table)
    assert "chair" in viewer.query_result.content
    box.fill("")
    box.press("Enter")
    wait_for(lambda: viewer.answer is None, "the query to clear")


def test_a_legend_click_shows_that_class_alone(live):
    viewer, page, canvas = live
    page.get_by_role("button", name="table", exact=True).click()
    wait_for(lambda: viewer.isolated == TABLE, "the table alone")
    img = settled(canvas.screenshot)
    fg = foreground(img)
    table = colour_count(img, class_colours(np.array([TABLE]))[0])
    assert table > 0.8 * fg.sum(), "other classes are still drawn"
    page.get_by_role("button", name="all classes", exact=True).click()
    wait_for(lambda: viewer.isolated is None, "every class again")


def test_the_static_export_draws_the_scene_from_a_file(store, browser, tmp_path):
    from geopurify.workflows.view_html import export_html

    out = export_html(str(store), SCENE, tmp_path / "scene.html")
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(out.resolve().as_uri())
    page.wait_for_selector("body[data-drawn]")
    canvas = page.locator("canvas")
    img = settled(canvas.screenshot)
    fg = foreground(img)
    assert fg.sum() > 0.05 * fg.size
    assert share_inside(fg, page.evaluate("window.geopurifyScreenBox()")) > 0.8
    for i in (FLOOR, TABLE, CHAIR):
        assert colour_count(img, class_colours(np.array([i]))[0]) > 200, f"class {i} is not on the screen"
    assert page.locator("text=prompt").count() == 0  # no text box in a file
    page.select_option("#layer", label="colour")
    after = settled(canvas.screenshot)
    assert (np.abs(after.astype(int) - img.astype(int)).max(axis=2) > 20).sum() > 0.5 * fg.sum()
    page.close()
