"""Kykytutka: client segmentation and early work-ability support need detection at booking."""

__version__ = "0.1.0"
