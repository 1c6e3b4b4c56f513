"""On-disk cache of generated datasets, keyed by a hash of the recipe, with a JSON manifest.

Layout, for a recipe with key ``K`` (first 16 hex digits of the SHA-256 of the canonical JSON of the recipe, which
includes every generation parameter, the seed and the code version)::

    <cache_dir>/<name>-<K>.pt     tensors, written with torch.save (a dict str -> Tensor)
    <cache_dir>/<name>-<K>.json   manifest: recipe, key, seed, tensor shapes/dtypes, file size, SHA-256 of the
                                  .pt file, created-at (UTC, ISO 8601), generation seconds, format version

Both files are written atomically (temp file in the same folder, fsync, ``os.replace``), the tensors first and the
manifest last, so a manifest only ever describes a complete file. On load the cache entry is used only if the
manifest parses, describes the same recipe, the file's size and SHA-256 match, ``torch.load(weights_only=True)``
succeeds and the tensors have the recorded shapes and dtypes. Anything else (missing manifest, truncated or edited
file, unreadable pickle) is reported with a :class:`CacheCorruptionWarning` and the data is regenerated and the entry
rewritten — a corrupt entry is never used.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from hnn.io import atomic_write_bytes

__all__ = [
    "CACHE_FORMAT_VERSION",
    "CacheCorruptionWarning",
    "CacheResult",
    "atomic_write_bytes",
    "canonical_json",
    "load_or_generate",
    "recipe_key",
]

CACHE_FORMAT_VERSION = 1


class CacheCorruptionWarning(UserWarning):
    """A cache entry was unreadable or did not match its manifest; it was regenerated."""


@dataclass
class CacheResult:
    """What :func:`load_or_generate` did: the tensors, the manifest, and whether they came from the cache."""

    tensors: dict[str, Tensor]
    manifest: dict[str, Any]
    hit: bool
    path: Path | None
    seconds: float  # wall time of this call (loading or generating + writing)


def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, no whitespace); tuples become lists. Raises TypeError on other types."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def recipe_key(recipe: Mapping[str, Any]) -> str:
    """First 16 hex digits of SHA-256 of the canonical JSON of ``recipe`` (with the cache format version)."""
    payload = canonical_json({"cache_format_version": CACHE_FORMAT_VERSION, "recipe": dict(recipe)})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def _tensor_bytes(tensors: Mapping[str, Tensor]) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save({name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}, buffer)
    return buffer.getvalue()


def _describe(tensors: Mapping[str, Tensor]) -> dict[str, dict[str, Any]]:
    return {name: {"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")} for name, t in tensors.items()}


def _validate_entry(data_path: Path, manifest_path: Path, recipe: Mapping[str, Any], key: str
                    ) -> tuple[dict[str, Tensor], dict[str, Any]] | str:
    """Return ``(tensors, manifest)`` for a valid entry, else a string saying what is wrong."""
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return f"manifest {manifest_path} is unreadable ({error})"
    if not isinstance(manifest, dict):
        return f"manifest {manifest_path} is not a JSON object"
    if manifest.get("key") != key or manifest.get("recipe") != json.loads(canonical_json(dict(recipe))):
        return f"manifest {manifest_path} describes a different recipe"
    if not data_path.is_file():
        return f"data file {data_path} is missing"
    size = data_path.stat().st_size
    if size != manifest.get("bytes"):
        return f"data file {data_path} has {size} bytes, manifest says {manifest.get('bytes')} (truncated?)"
    raw = data_path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != manifest.get("sha256"):
        return f"data file {data_path} has sha256 {digest}, manifest says {manifest.get('sha256')} (corrupted)"
    try:
        import io

        tensors = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 -- any unpickling failure means "do not use"
        return f"data file {data_path} cannot be loaded ({type(error).__name__}: {error})"
    if not isinstance(tensors, dict) or not all(isinstance(v, Tensor) for v in tensors.values()):
        return f"data file {data_path} does not hold a dict of tensors"
    if _describe(tensors) != manifest.get("tensors"):
        return f"data file {data_path} tensors do not match the manifest's shapes/dtypes"
    return tensors, manifest


def load_or_generate(
    name: str,
    recipe: Mapping[str, Any],
    generate: Callable[[], Mapping[str, Tensor]],
    cache_dir: str | os.PathLike | None,
    *,
    seed: int | None = None,
) -> CacheResult:
    """Return the tensors for ``recipe`` from ``cache_dir`` if a valid entry exists, else ``generate()`` and cache.

    ``recipe`` must be JSON-serialisable and contain everything the data depend on (parameters, seed, code version).
    ``cache_dir=None`` disables caching (always generates). If the cache folder cannot be written, a warning is
    issued and the generated data are returned uncached.
    """
    start = time.perf_counter()
    key = recipe_key(recipe)
    if cache_dir is None:
        tensors = dict(generate())
        manifest = _manifest(name, recipe, key, seed, tensors, None, time.perf_counter() - start)
        return CacheResult(tensors, manifest, hit=False, path=None, seconds=time.perf_counter() - start)

    folder = Path(cache_dir)
    data_path = folder / f"{name}-{key}.pt"
    manifest_path = folder / f"{name}-{key}.json"
    if manifest_path.exists() or data_path.exists():
        entry = _validate_entry(data_path, manifest_path, recipe, key)
        if isinstance(entry, tuple):
            tensors, manifest = entry
            return CacheResult(tensors, manifest, hit=True, path=data_path, seconds=time.perf_counter() - start)
        warnings.warn(f"cache entry for {name!r} not used: {entry}; regenerating", CacheCorruptionWarning,
                      stacklevel=2)

    tensors = {k: v.detach().cpu().contiguous() for k, v in generate().items()}
    generation_seconds = time.perf_counter() - start
    payload = _tensor_bytes(tensors)
    manifest = _manifest(name, recipe, key, seed, tensors, payload, generation_seconds)
    try:
        atomic_write_bytes(data_path, payload)
        atomic_write_bytes(manifest_path, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    except OSError as error:
        warnings.warn(f"could not write the cache entry for {name!r} to {folder} ({error}); using the data uncached",
                      stacklevel=2)
        return CacheResult(tensors, manifest, hit=False, path=None, seconds=time.perf_counter() - start)
    return CacheResult(tensors, manifest, hit=False, path=data_path, seconds=time.perf_counter() - start)


def _manifest(name: str, recipe: Mapping[str, Any], key: str, seed: int | None, tensors: Mapping[str, Tensor],
              payload: bytes | None, generation_seconds: float) -> dict[str, Any]:
    return {
        "format_version": CACHE_FORMAT_VERSION,
        "name": name,
        "key": key,
        "recipe": json.loads(canonical_json(dict(recipe))),
        "seed": seed,
        "tensors": _describe(tensors),
        "bytes": None if payload is None else len(payload),
        "sha256": None if payload is None else hashlib.sha256(payload).hexdigest(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "generation_seconds": round(generation_seconds, 4),
        "torch_version": torch.__version__,
    }
