"""Test-suite settings.

Tests use tiny tensors, where a second intra-op thread only adds synchronisation cost, and on a loaded 2-core
machine the BLAS/LAPACK thread pool can stall small batched solves for milliseconds. One thread keeps timings
predictable; it changes no numerical result.
"""
import os

import torch

os.environ.setdefault("WANDB_MODE", "offline")
torch.set_num_threads(1)
