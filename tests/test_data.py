"""Tests for hnn.data: the paper's recipes, the Schmidt & Lipson loaders, the cache, and HamiltonianDataModule.

All numerical checks run in float64. Simulated data are generated with reduced sizes where the full recipe is slow
(two/three-body); one slow-marked test generates the full recipes once.
"""
from __future__ import annotations

import json
import math
import os
import pickle
import shutil
import time
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import hnn.systems
from hnn.data import cache as cache_mod
from hnn.data.cache import CacheCorruptionWarning, load_or_generate, recipe_key
from hnn.data.batches import DerivativeBatch, WindowBatch
from hnn.data.datamodule import DeviceBatches, HamiltonianDataModule, available_tasks
from hnn.data.real import (
    RECORDINGS,
    ChecksumMismatchError,
    load_recording,
    read_recording_file,
    recordings_dir,
    sha256_of_file,
    shipped_checksums,
)
from hnn.data.synthetic import SIMULATION_RECIPES, simulate

REAL_DIR = recordings_dir()


def _raw(name: str) -> np.ndarray:
    """The recording parsed independently of hnn (numpy), rows [trial, time, values...]."""
    return np.loadtxt(REAL_DIR / RECORDINGS[name].filename, comments="%")


# ----------------------------------------------------------------------------------------------------- recordings
def test_shipped_files_match_sha256sums_and_registry():
    listed = {}
    for line in (REAL_DIR / "SHA256SUMS").read_text().splitlines():
        digest, filename = line.split()
        listed[filename] = digest
    assert set(listed) == {r.filename for r in RECORDINGS.values()}  # every recording has exactly one checksum
    assert shipped_checksums() == listed  # the loader reads the checksums from SHA256SUMS, the one record of them
    for recording in RECORDINGS.values():
        assert sha256_of_file(REAL_DIR / recording.filename) == listed[recording.filename]


def test_real_pendulum_gap_pairs_dropped_and_counted_independently():
    raw = _raw("real_pendulum")
    time_column = raw[:, 1]
    dt = np.diff(time_column)
    frame = 1.0 / 6.0  # the recording's 6 frames/s
    # Independent count: intervals longer than 1.5 frames are dropped frames (they are 2 or 3 frames long).
    expected_gaps = int((dt > 1.5 * frame).sum())
    data = load_recording("real_pendulum")
    assert data.n_gap_pairs == expected_gaps
    assert expected_gaps == 10  # the number documented in datasets/schmidt_lipson_2009/README.md
    assert abs(data.nominal_dt - frame) < 1e-12
    kept = torch.cat([data.blocks[b].pair_start for b in ("train", "val", "test")])
    assert len(kept) == len(dt) - expected_gaps
    # No kept pair spans a gap: every kept interval is one frame (to the stamps' round-off).
    assert np.abs(dt[kept.numpy()] - frame).max() < 1e-9
    gap_starts = set(np.nonzero(dt > 1.5 * frame)[0].tolist())
    assert gap_starts.isdisjoint(kept.tolist())


def test_forward_differences_use_the_actual_time_step():
    # real_spring's stamps alternate 0.033 / 0.034 s (ms-rounded 30 frames/s), so the actual Δt matters at 3 %.
    raw = _raw("real_spring")
    data = load_recording("real_spring")
    x, dxdt = data.pairs("train")
    start = data.blocks["train"].pair_start.numpy()
    actual_dt = raw[start + 1, 1] - raw[start, 1]
    expected = (raw[start + 1, 2:4] - raw[start, 2:4]) / actual_dt[:, None]
    np.testing.assert_allclose(x.numpy(), raw[start, 2:4], rtol=0, atol=0)
    np.testing.assert_allclose(dxdt.numpy(), expected, rtol=1e-12, atol=1e-9)
    with_nominal = (raw[start + 1, 2:4] - raw[start, 2:4]) / data.nominal_dt
    assert np.abs(with_nominal - dxdt.numpy()).max() > 0.01 * np.abs(dxdt.numpy()).max()
    # The pendulum: same formula on its own time column.
    raw = _raw("real_pendulum")
    data = load_recording("real_pendulum")
    _, dxdt = data.pairs("test")
    start = data.blocks["test"].pair_start.numpy()
    expected = (raw[start + 1, 2:4] - raw[start, 2:4]) / (raw[start + 1, 1] - raw[start, 1])[:, None]
    np.testing.assert_allclose(dxdt.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_real_pendulum_test_block_is_the_tail_of_the_recording():
    data = load_recording("real_pendulum", val_fraction=0.1)
    n_pairs = len(_raw("real_pendulum")) - 1
    assert n_pairs == data.n_pairs_total == 555
    test_start = int(n_pairs * 0.8)  # the paper's experiment-real/data.py: int(len * 0.8) = 444
    test = data.blocks["test"].pair_start
    assert test.min().item() == test_start and test.max().item() == n_pairs - 1
    assert len(test) == n_pairs - test_start  # no gap in the test block: all 111 pairs kept
    train, val = data.blocks["train"].pair_start, data.blocks["val"].pair_start
    assert train.max() < val.min() and val.max() < test.min()  # train | val | test in time order
    t, x = data.trajectory("test")
    assert t[0].item() == pytest.approx(81.0) and t[-1].item() == pytest.approx(99.5)
    assert x.shape == (1, n_pairs - test_start + 1, 2)


def test_windows_never_span_a_gap():
    data = load_recording("real_pendulum")
    window = 6
    t, x, deviation = data.windows("train", window)
    raw = _raw("real_pendulum")
    frame_ok = np.diff(raw[:, 1]) < 1.5 / 6.0
    train_pairs = np.arange(int(555 * 0.8))
    # Independent count: starts s with pairs s .. s+window-2 all inside the train block and all one frame long.
    expected = sum(1 for s in train_pairs if s + window - 2 < len(train_pairs) and frame_ok[s:s + window - 1].all())
    assert x.shape == (expected, window, 2)
    assert torch.allclose(t, torch.arange(window, dtype=torch.float64) / 6.0, atol=1e-12)
    assert deviation < 1e-12


def test_drop_gap_pairs_false_keeps_the_papers_pairs_with_the_actual_time_step():
    """``drop_gap_pairs=False`` is the paper's experiment-real/data.py train set: every consecutive pair of the first
    int(0.8 · 555) = 444 pairs, gap pairs included, forward-differenced over the actual (2–3 frame) interval."""
    raw = _raw("real_pendulum")
    n_pairs = len(raw) - 1
    split = int(n_pairs * 0.8)
    kept = load_recording("real_pendulum", val_fraction=0.0, drop_gap_pairs=False)
    dropped = load_recording("real_pendulum", val_fraction=0.0)
    assert kept.drop_gap_pairs is False and dropped.drop_gap_pairs is True
    # The paper's split, computed from the raw file with numpy: x = rows 0..443, dx = (x[i+1] - x[i]) / (t[i+1] - t[i]).
    paper_x = raw[:split, 2:4]
    paper_dx = (raw[1:split + 1, 2:4] - raw[:split, 2:4]) / (raw[1:split + 1, 1] - raw[:split, 1])[:, None]
    x, dxdt = kept.pairs("train")
    assert kept.blocks["train"].pair_start.tolist() == list(range(split))
    np.testing.assert_array_equal(x.numpy(), paper_x)
    # Same float64 arithmetic on the same numbers; 1e-12 relative allows for a different operation order only.
    np.testing.assert_allclose(dxdt.numpy(), paper_dx, rtol=1e-12, atol=1e-12)
    # The 10 extra pairs are exactly the gap pairs (all in the train block), with Δt of 2 or 3 frames.
    gap_starts = np.nonzero(np.diff(raw[:, 1]) > 1.5 / 6.0)[0]
    assert len(gap_starts) == 10 and gap_starts.max() < split
    extra = sorted(set(kept.blocks["train"].pair_start.tolist()) - set(dropped.blocks["train"].pair_start.tolist()))
    assert extra == gap_starts.tolist()
    frames = kept.pair_dt(torch.as_tensor(extra)).numpy() * 6.0
    np.testing.assert_allclose(frames, np.round(frames), atol=1e-9)
    assert set(np.round(frames).astype(int).tolist()) == {2, 3}
    # The test block (no gaps) and the gap counts do not depend on the option.
    assert torch.equal(kept.blocks["test"].pair_start, dropped.blocks["test"].pair_start)
    assert kept.n_gap_pairs == dropped.n_gap_pairs == 10
    assert kept.blocks["train"].n_gap_pairs == 10


def test_windows_never_span_a_gap_even_when_gap_pairs_are_kept():
    kept = load_recording("real_pendulum", drop_gap_pairs=False)
    dropped = load_recording("real_pendulum")
    for block in ("train", "val", "test"):
        t_kept, x_kept, dev_kept = kept.windows(block, 4)
        t_drop, x_drop, dev_drop = dropped.windows(block, 4)
        assert torch.equal(x_kept, x_drop) and torch.equal(t_kept, t_drop) and dev_kept == dev_drop


def test_datamodule_drop_gap_pairs_option():
    kept = HamiltonianDataModule("real_pendulum", val_fraction=0.0, drop_gap_pairs=False, dtype="float64",
                                 verbose=False)
    dropped = HamiltonianDataModule("real_pendulum", val_fraction=0.0, dtype="float64", verbose=False)
    assert dropped.drop_gap_pairs is True  # the default
    assert kept.hparams["drop_gap_pairs"] is False  # saved with the data module's hyperparameters
    x_kept, dxdt_kept = kept.pairs("train")
    x_drop, _ = dropped.pairs("train")
    assert x_kept.shape == (444, 2) and x_drop.shape == (434, 2)
    reference_x, reference_dxdt = load_recording("real_pendulum", val_fraction=0.0, drop_gap_pairs=False).pairs("train")
    assert torch.equal(x_kept, reference_x) and torch.equal(dxdt_kept, reference_dxdt)
    assert torch.equal(kept.pairs("test")[1], dropped.pairs("test")[1])
    assert kept.info["drop_gap_pairs"] is False and kept.info["n_pairs"]["train"] == 444
    assert "kept" in kept.summary() and "dropped" in dropped.summary().split("spanning a gap")[1]
    # The full-batch train loader serves the 444 pairs.
    batches = list(kept.train_dataloader())  # a full-batch epoch: 100 passes (the default), the same batch each
    assert len(batches) == 100 and all(b is batches[0] for b in batches)
    bx, bdxdt = batches[0]
    assert bx.shape == (444, 2) and torch.equal(bdxdt, dxdt_kept)


def test_drop_gap_pairs_bad_input():
    with pytest.raises(TypeError, match="drop_gap_pairs must be a bool"):
        load_recording("real_pendulum", drop_gap_pairs="no")
    with pytest.raises(TypeError, match="drop_gap_pairs must be a bool"):
        HamiltonianDataModule("real_pendulum", drop_gap_pairs=0)
    with pytest.raises(ValueError, match="drop_gap_pairs=False applies to recordings only"):
        HamiltonianDataModule("spring", drop_gap_pairs=False)
    HamiltonianDataModule("spring", drop_gap_pairs=True)  # the default is valid everywhere


def test_double_pendulum_trial_boundary_and_gaps():
    raw = _raw("real_double_pendulum")
    same_trial = np.diff(raw[:, 0]) == 0
    dt = np.diff(raw[:, 1])
    data = load_recording("real_double_pendulum")
    assert data.n_trial_boundary_pairs == int((~same_trial).sum()) == 1
    assert data.n_gap_pairs == int((same_trial & (dt > 1.5 * 0.01)).sum())
    x, dxdt = data.pairs("train")
    assert x.shape[1] == 4 and torch.isfinite(dxdt).all()
    with pytest.raises(ValueError, match="spans trials"):
        data.trajectory("train")


def test_checksum_mismatch_is_a_clear_error(tmp_path):
    for recording in RECORDINGS.values():
        shutil.copy(REAL_DIR / recording.filename, tmp_path / recording.filename)
    load_recording("real_pendulum", data_dir=tmp_path)  # intact copy loads
    path = tmp_path / "real_pend_h_1.txt"
    raw = bytearray(path.read_bytes())
    raw[200] = ord("7") if raw[200] != ord("7") else ord("8")  # change one digit
    path.write_bytes(bytes(raw))
    with pytest.raises(ChecksumMismatchError, match="real_pend_h_1.txt.*expected sha256"):
        load_recording("real_pendulum", data_dir=tmp_path)
    assert issubclass(ChecksumMismatchError, ValueError)
    path.unlink()
    with pytest.raises(FileNotFoundError, match="real_pend_h_1.txt"):
        load_recording("real_pendulum", data_dir=tmp_path)


def test_malformed_recording_rows_are_reported(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("% o v\n0 5.0 1.0 2.0\n0 5.1 1.0\n")
    with pytest.raises(ValueError, match="line 3 has 3 columns"):
        read_recording_file(path, 2)
    path.write_text("% o v\n0 5.0 1.0 2.0\n0 5.1 1.0 nan\n")
    with pytest.raises(ValueError, match="line 3"):
        read_recording_file(path, 2)


def test_recording_bad_arguments():
    with pytest.raises(ValueError, match="unknown recording 'real_pendulm'; choose one of .*real_pendulum"):
        load_recording("real_pendulm")
    with pytest.raises(ValueError, match="test_fraction"):
        load_recording("real_pendulum", test_fraction=1.5)
    with pytest.raises(ValueError, match="gap_factor"):
        load_recording("real_pendulum", gap_factor=1.0)


# ----------------------------------------------------------------------------------------------------- simulation
def test_spring_recipe_sizes_ranges_and_exact_targets():
    recipe = SIMULATION_RECIPES["spring"]
    data = simulate(recipe, seed=0)
    assert data["t"].shape == (30,) and data["x"].shape == (50, 30, 2) and data["dxdt"].shape == (50, 30, 2)
    assert torch.equal(data["t"], torch.linspace(0.0, 3.0, 30, dtype=torch.float64))
    assert all(v.dtype == torch.float64 for v in data.values())
    # H = q² + p² is conserved: the noiseless radius is constant along each orbit and lies in [0.1, 1].
    radius = data["x_true"].norm(dim=-1)
    assert torch.allclose(radius, radius[:, :1].expand_as(radius), rtol=0, atol=1e-12)
    assert radius.min() >= 0.1 and radius.max() <= 1.0
    # Exact solution of q̇ = 2p, ṗ = −2q: rotation by angle 2t. Closed form, so round-off tolerance.
    q0, p0 = data["x0"][:, :1], data["x0"][:, 1:]
    angle = 2.0 * data["t"]
    q = q0 * torch.cos(angle) + p0 * torch.sin(angle)
    p = p0 * torch.cos(angle) - q0 * torch.sin(angle)
    assert torch.allclose(data["x_true"], torch.stack([q, p], -1), rtol=0, atol=1e-12)
    # Targets are the exact field at the NOISELESS state: [2p, −2q].
    xt = data["x_true"]
    assert torch.allclose(data["dxdt"], torch.stack([2 * xt[..., 1], -2 * xt[..., 0]], -1), rtol=0, atol=1e-14)
    assert recipe.train_indices().tolist() == list(range(25)) and recipe.test_indices().tolist() == list(range(25, 50))


def test_pendulum_recipe_sizes_ranges_and_exact_targets():
    recipe = SIMULATION_RECIPES["pendulum"]
    data = simulate(recipe, seed=0)
    system = hnn.systems.get("pendulum")
    assert data["x"].shape == (50, 45, 2)
    assert torch.equal(data["t"], torch.linspace(0.0, 3.0, 45, dtype=torch.float64))
    r0 = data["x0"].norm(dim=-1)
    assert r0.min() >= 1.3 and r0.max() <= 2.3
    assert r0.max() - r0.min() > 0.5  # the radii spread over the range (50 draws from U[1.3, 2.3])
    # Reference trajectories conserve H = 3(1 − cos q) + p² (dopri5 at 1e-12: drift well below 1e-9).
    energy = system.hamiltonian(data["x_true"])
    assert (energy - energy[:, :1]).abs().max() < 1e-9
    q, p = data["x_true"][..., 0], data["x_true"][..., 1]
    assert torch.allclose(data["dxdt"], torch.stack([2 * p, -3 * torch.sin(q)], -1), rtol=0, atol=1e-14)


@pytest.mark.parametrize("task", ["spring", "pendulum"])
def test_noise_is_gaussian_with_std_0_1(task):
    data = simulate(SIMULATION_RECIPES[task], seed=1)
    noise = (data["x"] - data["x_true"]).flatten()
    n = noise.numel()  # 3000 (spring) or 4500 (pendulum) draws
    # 5-sigma bounds: the sample std has standard error σ/√(2n) ≈ 0.0013, the mean σ/√n ≈ 0.0018.
    assert abs(noise.std().item() - 0.1) < 5 * 0.1 / math.sqrt(2 * n)
    assert abs(noise.mean().item()) < 5 * 0.1 / math.sqrt(n)
    # Noise is independent of the state: q- and p-noise uncorrelated (|r| < 5/√n).
    qp = (data["x"] - data["x_true"]).reshape(-1, 2)
    r = torch.corrcoef(qp.T)[0, 1].item()
    assert abs(r) < 5 / math.sqrt(qp.shape[0])


def test_generation_is_deterministic_in_the_seed():
    recipe = SIMULATION_RECIPES["spring"]
    a, b, c = simulate(recipe, seed=7), simulate(recipe, seed=7), simulate(recipe, seed=8)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["x0"], c["x0"]) and not torch.equal(a["x"], c["x"])


def test_two_body_recipe_reduced():
    recipe = SIMULATION_RECIPES["two_body"].with_options(n_trajectories=10)
    data = simulate(recipe, seed=0)
    system = hnn.systems.get("two_body")
    assert data["x"].shape == (10, 50, 8)
    assert torch.equal(data["t"], torch.linspace(0.0, 20.0, 50, dtype=torch.float64))
    assert torch.equal(data["x"], data["x_true"])  # no state noise
    assert torch.equal(data["dxdt"], system.vector_field(data["x_true"]))
    energy = system.hamiltonian(data["x_true"])
    assert (energy - energy[:, :1]).abs().max() < 1e-8  # 1e-12 reference integration over 20 time units
    assert (energy < 0).all()  # near-circular orbits are bound
    assert recipe.test_indices().tolist() == [0, 1]  # the paper's two-body split: test = first 20 %


def test_three_body_recipe_reduced():
    recipe = SIMULATION_RECIPES["three_body"].with_options(n_trajectories=10, chunk_size=4)
    data = simulate(recipe, seed=0)
    system = hnn.systems.get("three_body")
    assert data["x"].shape == (10, 20, 12)
    assert torch.equal(data["t"], torch.linspace(0.0, 5.0, 20, dtype=torch.float64))
    assert torch.equal(data["x"], data["x_true"])
    assert torch.equal(data["dxdt"], system.vector_field(data["x_true"]))
    energy = system.hamiltonian(data["x_true"])
    # dopri5 at rtol = atol = 1e-9 (the paper's tolerance) over 5 time units: energy drift ~1e-8 or below.
    assert (energy - energy[:, :1]).abs().max() < 1e-6
    # Total momentum is a linear invariant: every Runge-Kutta method conserves it to round-off. (It is not zero:
    # the paper's recipe perturbs each body's velocity independently.)
    momentum = system.total_momentum(data["x_true"])
    assert (momentum - momentum[:, :1]).abs().max() < 1e-12


@pytest.mark.slow
def test_full_two_and_three_body_recipes(tmp_path):
    for task, n, points, n_test in (("two_body", 1000, 50, 200), ("three_body", 5000, 20, 1000)):
        start = time.perf_counter()
        dm = HamiltonianDataModule(task, cache_dir=str(tmp_path), val_fraction=0.0)
        dm.setup("fit")
        seconds = time.perf_counter() - start
        print(f"{task}: generated {n} trajectories in {seconds:.1f} s")
        t, x = dm.trajectories("test", noiseless=True)
        assert x.shape == (n_test, points, dm.dim) and t.shape == (points,)
        assert dm.pairs("train")[0].shape == ((n - n_test) * points, dm.dim)
        energy = dm.system.hamiltonian(x.double())
        assert torch.isfinite(energy).all()
        assert dm.info["cache_hit"] is False
        again = HamiltonianDataModule(task, cache_dir=str(tmp_path), val_fraction=0.0)
        again.setup("fit")
        assert again.info["cache_hit"] is True


def test_recipe_validation():
    with pytest.raises(ValueError, match="n_trajectories"):
        SIMULATION_RECIPES["spring"].with_options(n_trajectories=0)
    with pytest.raises(ValueError, match="test trajectories"):
        SIMULATION_RECIPES["spring"].with_options(n_trajectories=1)
    with pytest.raises(ValueError, match="t_span"):
        SIMULATION_RECIPES["spring"].with_options(t_span=(1.0, 0.0))
    with pytest.raises(ValueError, match="noise_std"):
        SIMULATION_RECIPES["spring"].with_options(noise_std=-0.1)


# ----------------------------------------------------------------------------------------------------- cache
def _counting_generator(calls: list[int], seed: int = 0):
    def generate():
        calls.append(1)
        g = torch.Generator().manual_seed(seed)
        return {"x": torch.randn(100, 2, generator=g, dtype=torch.float64), "t": torch.linspace(0, 1, 5)}

    return generate


def test_cache_hit_does_not_regenerate(tmp_path):
    recipe = {"kind": "test", "n": 100, "seed": 0}
    calls: list[int] = []
    first = load_or_generate("toy", recipe, _counting_generator(calls), tmp_path, seed=0)
    second = load_or_generate("toy", recipe, _counting_generator(calls), tmp_path, seed=0)
    assert len(calls) == 1 and not first.hit and second.hit
    assert all(torch.equal(first.tensors[k], second.tensors[k]) for k in first.tensors)
    manifest = json.loads((tmp_path / f"toy-{recipe_key(recipe)}.json").read_text())
    assert manifest["recipe"] == recipe and manifest["seed"] == 0
    assert manifest["tensors"]["x"] == {"shape": [100, 2], "dtype": "float64"}
    assert manifest["sha256"] == sha256_of_file(tmp_path / f"toy-{recipe_key(recipe)}.pt")
    assert "created_at" in manifest
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # atomic writes leave no temp files
    # A different recipe (seed) is a different entry.
    load_or_generate("toy", {**recipe, "seed": 1}, _counting_generator(calls, 1), tmp_path, seed=1)
    assert len(calls) == 2


def _corrupt_truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _corrupt_flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _corrupt_manifest(path: Path) -> None:
    path.with_suffix(".json").write_text("{not json")


@pytest.mark.parametrize("corrupt", [_corrupt_truncate, _corrupt_flip, _corrupt_manifest])
def test_corrupted_cache_is_detected_and_regenerated(tmp_path, corrupt):
    recipe = {"kind": "test", "n": 100}
    calls: list[int] = []
    original = load_or_generate("toy", recipe, _counting_generator(calls), tmp_path)
    corrupt(original.path)
    with pytest.warns(CacheCorruptionWarning):
        regenerated = load_or_generate("toy", recipe, _counting_generator(calls), tmp_path)
    assert len(calls) == 2 and not regenerated.hit
    assert torch.equal(regenerated.tensors["x"], original.tensors["x"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rewritten entry is valid again
        again = load_or_generate("toy", recipe, _counting_generator(calls), tmp_path)
    assert again.hit and len(calls) == 2


class _Payload:
    """Unpickling this would create a marker file (a code payload)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_cache_file_with_code_payload_is_never_executed(tmp_path):
    recipe = {"kind": "test", "n": 100}
    calls: list[int] = []
    entry = load_or_generate("toy", recipe, _counting_generator(calls), tmp_path)
    marker = tmp_path / "payload-ran"
    payload = pickle.dumps({"x": _Payload(str(marker))}, protocol=2)
    entry.path.write_bytes(payload)
    # Make the manifest agree with the file, so only torch.load(weights_only=True) stands in the way.
    manifest_path = entry.path.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text())
    manifest.update(bytes=len(payload), sha256=sha256_of_file(entry.path))
    manifest_path.write_text(json.dumps(manifest))
    with pytest.warns(CacheCorruptionWarning, match="cannot be loaded"):
        result = load_or_generate("toy", recipe, _counting_generator(calls), tmp_path)
    assert not marker.exists() and not result.hit and len(calls) == 2


def test_datamodule_uses_the_cache(tmp_path):
    first = HamiltonianDataModule("pendulum", cache_dir=str(tmp_path))
    start = time.perf_counter()
    first.setup("fit")
    generate_seconds = time.perf_counter() - start
    second = HamiltonianDataModule("pendulum", cache_dir=str(tmp_path))
    start = time.perf_counter()
    second.setup("fit")
    load_seconds = time.perf_counter() - start
    print(f"pendulum data: generated in {generate_seconds:.3f} s, loaded from cache in {load_seconds:.3f} s")
    assert first.info["cache_hit"] is False and second.info["cache_hit"] is True
    assert torch.equal(first.pairs("train")[0], second.pairs("train")[0])
    assert len(list(tmp_path.glob("pendulum-*.pt"))) == 1 and len(list(tmp_path.glob("pendulum-*.json"))) == 1


# ----------------------------------------------------------------------------------------------------- DataModule
def test_unknown_task_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown task 'sprung'; choose one of .*real_pendulum.*spring"):
        HamiltonianDataModule("sprung")
    for name in ("spring", "pendulum", "real_pendulum", "two_body", "three_body"):
        assert name in available_tasks()


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"mode": "pairs"}, ValueError, "unknown mode 'pairs'"),
        ({"window": 1}, ValueError, "window"),
        ({"window": 31}, ValueError, "window=31 exceeds"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"val_fraction": 1.0}, ValueError, "val_fraction"),
        ({"val_fraction": -0.1}, ValueError, "val_fraction"),
        ({"dtype": "float16"}, ValueError, "dtype"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"passes_per_epoch": 0}, ValueError, "passes_per_epoch"),
        ({"n_trajectories": 1}, ValueError, "n_trajectories"),
        ({"num_workers": 1, "passes_per_epoch": 2}, ValueError, "passes_per_epoch"),
        ({"num_workers": -1}, ValueError, "num_workers"),
    ],
)
def test_bad_parameters_raise(kwargs, error, message):
    with pytest.raises(error, match=message):
        HamiltonianDataModule("spring", cache=False, **kwargs)


def test_recording_rejects_simulation_only_options():
    with pytest.raises(ValueError, match="n_trajectories"):
        HamiltonianDataModule("real_pendulum", n_trajectories=10)
    dm = HamiltonianDataModule("real_pendulum", mode="windows", window=200)
    with pytest.raises(ValueError, match="window=200"):
        dm.setup("fit")


def test_dim_and_system_known_before_setup():
    expected = {"spring": 2, "pendulum": 2, "two_body": 8, "three_body": 12, "real_pendulum": 2,
                "real_spring": 2, "real_double_pendulum": 4, "real_coupled_springs": 4}
    for task, dim in expected.items():
        dm = HamiltonianDataModule(task, cache=False)
        assert dm.dim == dim
        assert dm._cpu_splits is None  # nothing loaded yet
    assert HamiltonianDataModule("spring").system.name == "spring"
    assert HamiltonianDataModule("real_spring").system is None


def test_real_pendulum_system_is_the_papers_analysis_hamiltonian():
    system = HamiltonianDataModule("real_pendulum").system
    x = torch.randn(100, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2
    q, p = x[:, 0], x[:, 1]
    assert torch.allclose(system.hamiltonian(x), 2.4 * (1 - torch.cos(q)) + p**2, rtol=1e-14, atol=1e-14)


def test_derivative_batches_full_batch():
    dm = HamiltonianDataModule("spring", cache=False, passes_per_epoch=3)
    dm.setup("fit")
    loader = dm.train_dataloader()
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert isinstance(batches[0], DerivativeBatch)
    x, dxdt = batches[0]
    n_train = dm.info["n_trajectories"]["train"]
    assert x.shape == dxdt.shape == (n_train * 30, 2) and x.dtype == torch.float32
    # The very same pre-made tensors every step (no per-step collation or copy).
    assert all(b[0] is x and b[1] is dxdt for b in batches)
    assert torch.equal(x, dm.pairs("train")[0])
    (vx, vdxdt), = list(dm.val_dataloader())
    assert vx.shape == (dm.info["n_trajectories"]["val"] * 30, 2)
    (tx, _), = list(dm.test_dataloader())
    assert tx.shape == (25 * 30, 2)


def test_window_batches():
    dm = HamiltonianDataModule("pendulum", mode="windows", window=5, cache=False, dtype="float64")
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert isinstance(batch, WindowBatch)
    t, x = batch
    n_train = dm.info["n_trajectories"]["train"]
    assert t.shape == (5,) and x.shape == (n_train * (45 - 5 + 1), 5, 2) and x.dtype == torch.float64
    assert torch.allclose(t, torch.arange(5, dtype=torch.float64) * 3.0 / 44, atol=1e-14)
    # Window k of trajectory 0 is samples k .. k+4 of that trajectory.
    _, traj = dm.trajectories("train")
    assert torch.equal(x[3], traj[0, 3:8])
    real = HamiltonianDataModule("real_pendulum", mode="windows", window=4)
    real.setup("fit")
    t, x = next(iter(real.train_dataloader()))
    assert t.shape == (4,) and x.shape[1:] == (4, 2) and x.shape[0] == real.info["n_windows"]["train"]


def test_minibatches_cover_the_split_once_per_pass():
    dm = HamiltonianDataModule("spring", batch_size=64, cache=False, dtype="float64", passes_per_epoch=2)
    dm.setup("fit")
    x_all, _ = dm.pairs("train")
    loader = dm.train_dataloader()
    batches = list(loader)
    per_pass = math.ceil(x_all.shape[0] / 64)
    assert len(loader) == len(batches) == 2 * per_pass
    first_pass = torch.cat([b[0] for b in batches[:per_pass]])
    assert first_pass.shape == x_all.shape
    # Each pass is a permutation of the split: same multiset of rows.
    key = lambda v: v[:, 0] * 1e3 + v[:, 1]  # noqa: E731 -- unique per row here (continuous values)
    assert torch.equal(key(first_pass).sort().values, key(x_all).sort().values)
    assert not torch.equal(first_pass, x_all)  # shuffled


def test_setup_moves_data_to_the_trainers_device():
    # A stand-in trainer whose strategy's root device is "meta": setup must put every served tensor there.
    dm = HamiltonianDataModule("spring", cache=False)
    dm.trainer = types.SimpleNamespace(strategy=types.SimpleNamespace(root_device=torch.device("meta")))
    dm.setup("fit")
    x, dxdt = next(iter(dm.train_dataloader()))
    assert x.device.type == "meta" and dxdt.device.type == "meta"
    t, traj = dm.trajectories("test")
    assert t.device.type == "meta" and traj.device.type == "meta"


def test_val_split_is_carved_from_train_deterministically():
    a = HamiltonianDataModule("spring", cache=False, seed=3, val_fraction=0.2)
    b = HamiltonianDataModule("spring", cache=False, seed=3, val_fraction=0.2)
    a.setup(), b.setup()
    assert a.info["val_trajectories"] == b.info["val_trajectories"]
    assert len(a.info["val_trajectories"]) == 5  # round(0.2 · 25)
    train, val, test = (set(a.info[f"{s}_trajectories"]) for s in ("train", "val", "test"))
    assert train | val == set(range(25)) and not train & val and test == set(range(25, 50))
    none = HamiltonianDataModule("spring", cache=False, val_fraction=0.0)
    none.setup()
    assert len(none.val_dataloader()) == 0 and len(none.info["train_trajectories"]) == 25


def test_trajectories_and_pairs_accessors():
    dm = HamiltonianDataModule("spring", cache=False, dtype="float64")
    t, x = dm.trajectories("test")
    _, x_true = dm.trajectories("test", noiseless=True)
    assert x.shape == x_true.shape == (25, 30, 2)
    assert 0.05 < (x - x_true).std() < 0.15
    with pytest.raises(ValueError, match="unknown split 'validation'"):
        dm.pairs("validation")
    real = HamiltonianDataModule("real_pendulum", dtype="float64")
    t, x = real.trajectories("test")
    assert x.shape == (1, 112, 2) and t[0] == pytest.approx(81.0)
    with pytest.raises(ValueError, match="recording"):
        real.trajectories("test", noiseless=True)
    with pytest.raises(ValueError, match="mode='windows'"):
        real.windows("train")


class _TinyModule(__import__("pytorch_lightning").LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 2)
        self.seen: list[torch.Tensor] = []

    def training_step(self, batch, batch_idx):
        x, dxdt = batch
        self.seen.append(x)
        return torch.mean((self.layer(x) - dxdt) ** 2)

    def validation_step(self, batch, batch_idx):
        x, dxdt = batch
        self.log("val_loss", torch.mean((self.layer(x) - dxdt) ** 2))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


@pytest.mark.parametrize("val_fraction", [0.1, 0.0])
def test_lightning_fit_with_the_datamodule(tmp_path, val_fraction):
    import pytorch_lightning as pl

    dm = HamiltonianDataModule("spring", cache_dir=str(tmp_path), val_fraction=val_fraction, passes_per_epoch=2)
    model = _TinyModule()
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=dm)
    assert trainer.global_step == 4 and len(model.seen) == 4
    # One on-device tensor served for every step.
    assert all(x.data_ptr() == model.seen[0].data_ptr() for x in model.seen)
    assert model.seen[0].device == trainer.strategy.root_device
    if val_fraction:
        assert "val_loss" in trainer.callback_metrics


def test_dataloader_path_with_workers():
    dm = HamiltonianDataModule("spring", mode="windows", window=3, batch_size=100, num_workers=1, cache=False)
    dm.setup("fit")
    loader = dm.train_dataloader()
    batch = next(iter(loader))
    assert isinstance(batch, WindowBatch) and batch.t.shape == (3,) and batch.x.shape == (100, 3, 2)
    pairs = HamiltonianDataModule("spring", batch_size=100, num_workers=1, cache=False)
    pairs.setup("fit")
    batch = next(iter(pairs.train_dataloader()))
    assert isinstance(batch, DerivativeBatch) and batch.x.shape == batch.dxdt.shape == (100, 2)


def test_device_batches_rejects_mismatched_tensors():
    with pytest.raises(ValueError, match="disagree"):
        DeviceBatches([torch.zeros(3, 2), torch.zeros(4, 2)])


def test_toy2d_datamodule_is_exported_lazily():
    import hnn.data

    assert "Toy2DDataModule" in hnn.data.__all__
    assert hnn.data.Toy2DDataModule.__name__ == "Toy2DDataModule"


def test_full_batch_epochs_default_to_100_steps_and_mini_batches_to_one_pass():
    assert HamiltonianDataModule("spring", cache=False).passes_per_epoch == 100
    assert HamiltonianDataModule("spring", cache=False, batch_size=32).passes_per_epoch == 1
    assert HamiltonianDataModule("spring", cache=False, passes_per_epoch=7).passes_per_epoch == 7


def test_generated_data_goes_to_the_user_cache_or_the_given_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HNN_CACHE_DIR", str(tmp_path / "user_cache"))
    monkeypatch.chdir(tmp_path)
    HamiltonianDataModule("spring", verbose=False).prepare_data()
    assert sorted(p.suffix for p in (tmp_path / "user_cache").iterdir()) == [".json", ".pt"]
    HamiltonianDataModule("spring", verbose=False, cache_dir=str(tmp_path / "mine")).prepare_data()
    assert len(list((tmp_path / "mine").iterdir())) == 2
    HamiltonianDataModule("spring", verbose=False, cache=False).setup("fit")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "user_cache"]  # nothing else was written


def test_reference_rollouts_of_a_simulated_task_follow_the_system():
    dm = HamiltonianDataModule("pendulum", cache=False)
    reference = dm.reference_rollouts("test", n_starts=4, horizon=5.0, n_times=11)
    (group,) = reference.groups
    _, x_true = dm.trajectories("test", noiseless=True)
    assert group.x0.dtype == torch.float64 and torch.equal(group.x0, dm._build_cpu_splits()["test"].traj_x_true[:4, 0])
    assert torch.allclose(group.x0, x_true[:4, 0].double(), atol=1e-6)
    assert torch.equal(group.t_model, torch.linspace(0, 5.0, 11, dtype=torch.float64))
    # the reference trajectory conserves the system's H to the reference solver's accuracy (dopri5 at 1e-12)
    energy = reference.energy(group.truth)
    assert reference.conservative and float((energy - energy[:1]).abs().max()) < 1e-9
    default = dm.reference_rollouts("val")  # horizon: two periods of the system, at least the data's span
    assert float(default.groups[0].t_model[-1]) == pytest.approx(max(3.0, 2 * dm.system.period))
    with pytest.raises(ValueError, match="no trajectories"):
        HamiltonianDataModule("pendulum", cache=False, val_fraction=0.0).reference_rollouts("val")


def test_reference_rollouts_of_a_recording_are_the_recorded_block():
    dm = HamiltonianDataModule("real_pendulum", dtype="float64")
    reference = dm.reference_rollouts("test")
    (group,) = reference.groups
    t, x = dm.trajectories("test")
    assert torch.equal(group.truth[:, 0], x[0]) and torch.equal(group.x0, x[:1, 0])
    assert torch.equal(group.t_model, t - t[0]) and not reference.conservative
    q, p = x[0, :, 0], x[0, :, 1]  # energy: the paper's analysis H
    assert torch.allclose(reference.energy(x[0]), 2.4 * (1 - torch.cos(q)) + p**2, rtol=1e-14, atol=1e-14)
    cut = dm.reference_rollouts("test", horizon=5.0)
    assert float(cut.groups[0].t_model[-1]) <= 5.0 < float(group.t_model[-1])
    assert HamiltonianDataModule("real_spring").reference_rollouts("test").energy is None
