from .fixed_length_dataset import FixedLengthDataset, LineDataset, PriorDataset, WindowDataset

__all__ = ["FixedLengthDataset", "LineDataset", "PriorDataset", "WindowDataset"]
