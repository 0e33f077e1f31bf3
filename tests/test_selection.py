import pytest

from geopurify.pipeline.errors import ConfigError, InputError
from geopurify.pipeline.selection import select_scenes

AVAILABLE = ["scene0000_00", "scene0113_00", "scene0448_01"]


def test_names_globs_commas_and_files(tmp_path):
    assert select_scenes(["scene0*"], AVAILABLE, "root") == AVAILABLE
    assert select_scenes(["scene0113_00,scene0000_00"], AVAILABLE, "root") == ["scene0000_00", "scene0113_00"]
    listing = tmp_path / "list.txt"
    listing.write_text("# training\nscene0448_01\n\nscene01*  # glob\n")
    assert select_scenes([f"@{listing}"], AVAILABLE, "root") == ["scene0113_00", "scene0448_01"]


def test_unknown_names_are_errors_naming_the_root():
    with pytest.raises(InputError, match="root: unknown scene 'scene9999_00'"):
        select_scenes(["scene9999_00"], AVAILABLE, "root")
    with pytest.raises(InputError, match="no scene matches"):
        select_scenes(["x*"], AVAILABLE, "root")
    with pytest.raises(ConfigError):
        select_scenes([], AVAILABLE, "root")
