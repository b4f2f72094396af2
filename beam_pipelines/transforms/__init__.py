"""The pipeline's composite transforms, one per module."""
