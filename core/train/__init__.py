"""Training and evaluation: datasets, trainer, metrics."""
