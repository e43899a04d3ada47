from .fixed_length_dataset import FixedLengthDataset, LineDataset, WindowDataset

__all__ = ["FixedLengthDataset", "LineDataset", "WindowDataset"]
