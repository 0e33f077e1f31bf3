"""geopurify: posed RGB-D scans to open-vocabulary 3D semantic segmentation (GeoPurify)."""

__version__ = "0.1.0"
