"""hnn.training: the training program (LightningCLI subclass, loggers, callbacks, run folders and resume),
checkpoint IO (``hnn.load``, the one loader) and the pretrained registry (``hnn.load_pretrained``).

- :mod:`hnn.training.cli` -- ``hnn-train`` / ``python scripts/train.py``;
- :mod:`hnn.training.callbacks` -- FiniteLossGuard, RolloutMonitor, DensityFigure, FitTimer;
- :mod:`hnn.training.checkpoint` -- ``load``, ``read_checkpoint``, ``AtomicCheckpointIO``, ``CheckpointError``;
- :mod:`hnn.training.pretrained` -- ``available_pretrained``, ``load_pretrained``.
"""
