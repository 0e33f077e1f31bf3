"""Deterministic synthetic scans written in the ScanNet layout, for tests and demos.

A scene is a rectangular room (floor and four walls, no ceiling) with furniture made of axis-aligned
boxes (bed, table with legs, chair with a backrest, sofa with a backrest, cabinet against a wall) and
a door, a window and a picture as labelled regions of the walls. Every surface is an axis-aligned
rectangle in the room's frame; the room is then placed in a "raw scan" world frame by a random
rotation about z and a shift, so, as in ScanNet, the points and poses are not axis-aligned and
``<scene>.txt`` records the ``axisAlignment`` that undoes it.

- The mesh samples each rectangle on a regular grid (two triangles a cell, wound so the face normal
  points to the side the surface is seen from); surface parts hidden inside other boxes (the floor
  under the bed, the wall behind the cabinet) are left out, as a scanner would never see them.
- Colour and depth frames are ray cast against the same rectangles, so occlusion is exact: the
  nearest surface along each pixel's ray wins. Pixel (i, j) is the ray through image coordinates
  u = i, v = j (pixel centres at integers), so rounding a projection picks the pixel.
- Colours are a function of the surface point (class colour, a per-object tint, a shade per face
  direction and a hashed 4 cm texture), so a vertex and the pixels that see it agree.
- Files are bit-identical for the same arguments: one seeded generator, fixed-precision text,
  deterministic image and PLY encoders. Poses and intrinsics are rounded to the 6 decimals written
  and the images are rendered from the rounded values, so the files agree with each other exactly.

Modules: ``room`` (the room, its furniture and the labelled, coloured rectangles and mesh),
``camera`` (poses, intrinsics and ray-cast frames), ``files`` (the scene written to disk).
"""

from .files import format_matrix, generate_dataset, generate_scene, write_generic, write_inf_pose, write_matrix
from .room import CLASS_COLOURS

__all__ = ["CLASS_COLOURS", "format_matrix", "generate_dataset", "generate_scene", "write_generic",
           "write_inf_pose", "write_matrix"]
