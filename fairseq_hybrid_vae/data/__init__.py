from .fixed_length_dataset import (
    FixedLengthDataset,
    InterpolationDataset,
    LineDataset,
    PriorDataset,
    WindowDataset,
)

__all__ = ["FixedLengthDataset", "InterpolationDataset", "LineDataset", "PriorDataset",
           "WindowDataset"]
