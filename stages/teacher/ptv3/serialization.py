"""Space-filling-curve orders of a batch of grid cells: PTv3's serialisation.

Every order gives each cell an integer code; sorting the codes lists the cells along the curve, and
attention then runs within consecutive runs ("patches") of that list. The code layout is the
reference's, so that the same cells fall into the same patches: the curve index over ``depth`` bits
per axis fills the low ``3 * depth`` bits (x highest of each triple), the cloud's batch index sits
above them (sorting keeps each cloud contiguous and the clouds in batch order), and ``depth`` is the
bit length of (largest grid coordinate + 1) over the whole batch, recomputed at every level.
"""

from __future__ import annotations

import torch

ORDERS = ("z", "z-trans", "hilbert", "hilbert-trans")
"""The four curves: Z (Morton) and Hilbert, each also with x and y swapped (``-trans``)."""
MAX_DEPTH = 16
"""Bits per axis the codes allow (as the reference): a 2 cm grid may span 65,536 cells (1.3 km)."""


def curve_depth(grid_coord: torch.Tensor) -> int:
    """Bits per axis of the batch's codes: the bit length of its largest coordinate + 1."""
    return int(grid_coord.max().item() + 1).bit_length() if grid_coord.numel() else 1


_SPREAD = ((32, 0x1F00000000FFFF), (16, 0x1F0000FF0000FF), (8, 0x100F00F00F00F00F),
           (4, 0x10C30C30C30C30C3), (2, 0x1249249249249249))
"""Shifts and masks that move bit i of a 21-bit integer to bit 3i."""


def _spread_bits(v: torch.Tensor) -> torch.Tensor:
    v = v & ((1 << 21) - 1)
    for shift, mask in _SPREAD:
        v = (v | (v << shift)) & mask
    return v


def interleave_bits(grid_coord: torch.Tensor, depth: int) -> torch.Tensor:
    """The Z-order (Morton) code of cells (N,3) int64 over their low ``depth`` bits: bit i of x, y,
    z at bits 3i+2, 3i+1, 3i."""
    low = (1 << depth) - 1
    x, y, z = (_spread_bits(grid_coord[:, d].long().contiguous() & low) for d in range(3))
    return (x << 2) | (y << 1) | z


def hilbert_code(grid_coord: torch.Tensor, depth: int) -> torch.Tensor:
    """The 3-D Hilbert index of cells (N,3) int64 over ``depth`` bits per axis (Skilling, 2004).

    From the highest bit down, each axis either inverts the lower bits of the first axis (its own bit
    set) or exchanges its lower bits with the first axis' (bit clear); the bits of the transformed
    axes, interleaved, are the Gray code of the index, decoded by a prefix XOR from the top bit."""
    axes = [grid_coord[:, d].long().clone() for d in range(3)]
    for bit in range(depth - 1, 0, -1):
        low = (1 << bit) - 1
        for d in range(3):
            on = (axes[d] >> bit) & 1 == 1
            exchange = torch.where(on, 0, (axes[0] ^ axes[d]) & low)
            axes[0] = torch.where(on, axes[0] ^ low, axes[0] ^ exchange)
            if d:
                axes[d] = axes[d] ^ exchange
    code = interleave_bits(torch.stack(axes, dim=1), depth)
    shift = 1
    while shift < 3 * depth:
        code ^= code >> shift
        shift *= 2
    return code


def order_code(grid_coord: torch.Tensor, batch: torch.Tensor, order: str, depth: int) -> torch.Tensor:
    """Code (N,) int64 of every cell for one order, its cloud's batch index in the high bits."""
    if order not in ORDERS:
        raise ValueError(f"serialisation order {order!r}: expected one of {', '.join(ORDERS)}")
    grid = grid_coord[:, [1, 0, 2]] if order.endswith("-trans") else grid_coord
    code = interleave_bits(grid, depth) if order.startswith("z") else hilbert_code(grid, depth)
    return (batch.long() << (3 * depth)) | code


def serialize(grid_coord: torch.Tensor, batch: torch.Tensor, orders: tuple[str, ...],
              clouds: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For each order, the cells sorted along it (k,N) and each cell's place in that list (k,N).

    ``clouds`` is the batch's number of clouds (the high bits the batch index needs)."""
    depth = curve_depth(grid_coord)
    if depth > MAX_DEPTH or 3 * depth + int(clouds).bit_length() > 63:
        raise ValueError(f"grid of {int(grid_coord.max()) + 1} cells per axis and {clouds} clouds "
                         f"do not fit a 63-bit code ({MAX_DEPTH} bits per axis at most)")
    codes = torch.stack([order_code(grid_coord, batch, o, depth) for o in orders])
    sorted_cells = torch.argsort(codes, dim=1, stable=True)
    places = torch.empty_like(sorted_cells)
    places.scatter_(1, sorted_cells, torch.arange(codes.shape[1], device=codes.device).expand_as(codes))
    return sorted_cells, places
