import pytest

from geopurify.pipeline.errors import ConfigError, InputError
from geopurify.pipeline.selection import match_scenes

AVAILABLE = ["scene0000_00", "scene0113_00", "scene0448_01"]


def test_names_globs_commas_and_files(tmp_path):
    assert match_scenes(["scene0*"], AVAILABLE, "root") == AVAILABLE
    assert match_scenes(["scene0113_00,scene0000_00"], AVAILABLE, "root") == ["scene0000_00", "scene0113_00"]
    listing = tmp_path / "list.txt"
    listing.write_text("# training\nscene0448_01\n\nscene01*  # glob\n")
    assert match_scenes([f"@{listing}"], AVAILABLE, "root") == ["scene0113_00", "scene0448_01"]


def test_unknown_names_are_errors_naming_the_root():
    with pytest.raises(InputError, match="root: unknown scene 'scene9999_00'"):
        match_scenes(["scene9999_00"], AVAILABLE, "root")
    with pytest.raises(InputError, match="no scene matches"):
        match_scenes(["x*"], AVAILABLE, "root")
    with pytest.raises(ConfigError):
        match_scenes([], AVAILABLE, "root")
