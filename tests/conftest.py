"""Test-suite settings.

Tests use tiny tensors, where a second intra-op thread only adds synchronisation cost, and on a loaded 2-core
machine the BLAS/LAPACK thread pool can stall small batched solves for milliseconds. One thread keeps timings
predictable; it changes no numerical result.
"""
import os

import torch

os.environ.setdefault("WANDB_MODE", "offline")
torch.set_num_threads(1)

# Generated datasets of the whole session go to one temporary cache, never to the user's ~/.cache/hnn.
if "HNN_CACHE_DIR" not in os.environ:
    import tempfile

    os.environ["HNN_CACHE_DIR"] = tempfile.mkdtemp(prefix="hnn-test-cache-")
