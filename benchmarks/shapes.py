"""The images the benchmark copies, by shape: how many layers of which sizes, one platform or an index.

Shapes, not fixtures: a copier's cost depends on the layer-size distribution (one big layer bounds the
data phase; many small layers expose per-blob round trips), so each shape is its own row.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.blobs import MIB, Blob, Image, push_image, push_index

KIB = 1024


@dataclass(frozen=True)
class Shape:
    label: str
    layers: tuple[int, ...]  # layer sizes in bytes, per platform
    platforms: int = 1  # > 1: an OCI index over one image per platform

    @property
    def total_bytes(self) -> int:
        return sum(self.layers) * self.platforms

    def push(self, registry_url: str, repository: str, tag: str = "v1") -> Image:
        """Random gzip layers of this shape, pushed with stdlib HTTP (not with the engine under test)."""
        if self.platforms == 1:
            return push_image(registry_url, repository, tag, [Blob.random_layer(size) for size in self.layers])
        children = [[Blob.random_layer(size) for size in self.layers] for _ in range(self.platforms)]
        return push_index(registry_url, repository, tag, children)


# The single-image figures of the goals (issue 7) and the memory bound
EVEN = Shape("5 layers / ~100 MB", (20 * MIB,) * 5)
INDEX = Shape("2-platform index", (8 * MIB,) * 3, platforms=2)
BIG = Shape("1 layer / ~500 MB", (500 * MIB,))
# The layer-size distributions of the cross-registry comparison (issue 18)
UNEVEN = Shape("uneven 40/30/20/10/1 MB", (40 * MIB, 30 * MIB, 20 * MIB, 10 * MIB, 1 * MIB))
EVEN_5X20 = Shape("even 5 x 20 MB", (20 * MIB,) * 5)
MANY_SMALL = Shape("many small: 50 x 200 KB", (200 * KIB,) * 50)
CROSS_SHAPES = (UNEVEN, EVEN_5X20, MANY_SMALL)
