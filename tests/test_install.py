"""The installed package, not the checkout: build the wheel, install it into a fresh venv, use it from elsewhere.

The venv has no access to this environment's site-packages; its dependencies come from the package index (pip's
cache makes that quick on a machine that has installed them once) and torch from the CPU build on disk. From an
empty folder outside the checkout, with the checkout not on ``sys.path``, the check script asserts that ``hnn``
is imported from the new venv, loads every pretrained model and every shipped recording, and runs the installed
training command for a few steps and Table 1's quick mode.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CHECK = textwrap.dedent("""
    import copy, json, os, sys
    from pathlib import Path
    import torch
    import hnn
    from hnn.data import HamiltonianDataModule, RECORDINGS, load_recording
    from hnn.training.pretrained import available_pretrained, load_pretrained, pretrained_entry

    venv = Path(sys.prefix).resolve()
    assert Path(hnn.__file__).resolve().is_relative_to(venv), (hnn.__file__, venv)
    assert not any(Path(p).resolve() == Path(sys.argv[1]).resolve() for p in sys.path if p), sys.path
    names = [name for name in available_pretrained() if "env_id" not in pretrained_entry(name)]
    assert len(names) == 8, names
    for name in names:
        model = load_pretrained(name)
        entry = pretrained_entry(name)
        data = HamiltonianDataModule(task=entry["task"], seed=entry["seed"], val_fraction=0.0, verbose=False)
        x, dxdt = data.pairs("test")
        with torch.no_grad():
            mse = float(torch.mean((model.vector_field(x) - dxdt) ** 2))
        assert abs(mse - entry["metrics"]["test_mse"]) <= 1e-4 * entry["metrics"]["test_mse"], (name, mse)
        print(f"pretrained {name}: {type(model.field).__name__}, test MSE {mse:.4e} (manifest "
              f"{entry['metrics']['test_mse']:.4e})")
    import gymnasium as gym
    import hnn.envs
    from hnn.envs import PRETRAINED
    from hnn.evaluation.openloop import open_loop_accuracy
    for env_id, name in PRETRAINED.items():
        if name is None:
            continue
        entry = pretrained_entry(name)
        env = gym.make(f"hnn/Learned{env_id}")  # the shipped controlled model, loaded by default
        env.reset(seed=0)
        env.step(env.action_space.sample())
        model = env.unwrapped.dynamics.model
        error = open_loop_accuracy(model, env_id).median_error(50)
        # float32 rounding differs between CPUs and a chaotic env amplifies it (tests/test_envs.py): 10x the change
        # the same rounding makes in float64
        spread = abs(error - open_loop_accuracy(copy.deepcopy(model).double(), env_id).median_error(50))
        assert abs(error - entry["metrics"]["open_loop_median_error_50"]) <= 1e-6 * (1 + error) + 10 * spread, \
            (name, error, spread)
        print(f"learned env hnn/Learned{env_id}: {name}, 50-step open-loop error {error:.4g}")
    for task in RECORDINGS:
        recording = load_recording(task)
        print(f"recording {task}: {recording.n_pairs_total} pairs from {recording.path}")
        assert Path(recording.path).resolve().is_relative_to(venv)
    print("OK")
""")


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kwargs)
    assert out.returncode == 0, f"{cmd}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.mark.slow
def test_the_wheel_installs_and_works_outside_the_checkout(tmp_path):
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(REPO)])
    (wheel,) = dist.glob("hnn_lightning-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n for n in names if n.startswith(("hnn/configs/", "hnn/datasets/"))}
    assert {f"hnn/configs/{p.name}" for p in (REPO / "configs").glob("*.yaml")} <= shipped
    assert {f"hnn/datasets/pretrained/{p.name}" for p in (REPO / "datasets" / "pretrained").iterdir()
            if p.suffix in (".ckpt", ".json")} <= shipped
    assert {f"hnn/datasets/schmidt_lipson_2009/{p.name}" for p in (REPO / "datasets" / "schmidt_lipson_2009").iterdir()
            if p.suffix in (".txt", "") or p.name == "README.md"} <= shipped
    assert not any("/cache/" in n or n.startswith("tests/") or n.startswith("scripts/") for n in names)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])  # no --system-site-packages: nothing of this environment
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "WANDB_SERVICE")}
    env.update(HNN_CACHE_DIR=str(tmp_path / "cache"), WANDB_MODE="offline", OMP_NUM_THREADS="1")
    torch_spec = f"torch=={__import__('torch').__version__.split('+')[0]}"  # the CPU build already on this machine
    _run([str(python), "-m", "pip", "install", "--quiet", torch_spec], env=env)
    _run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], env=env)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    check = _run([str(python), "-c", CHECK, str(REPO)], cwd=elsewhere, env=env)
    assert check.stdout.strip().endswith("OK"), check.stdout
    train = _run([str(venv / "bin" / "hnn-train"), "--trainer.max_steps", "5", "--trainer.enable_progress_bar",
                  "false"], cwd=elsewhere, env=env)
    assert "== HamiltonianField on spring: 5 steps" in train.stdout
    assert (elsewhere / "runs" / "hnn_spring" / "version_0" / "checkpoints" / "last.ckpt").is_file()
    table = _run([str(venv / "bin" / "hnn-table1"), "--quick", "--tasks", "spring", "--out", "t1"], cwd=elsewhere,
                 env=env)
    assert "| ideal mass-spring | HNN | 0 |" in table.stdout and (elsewhere / "t1" / "table1.png").is_file()
    # generated data went to the user cache, nothing into the installed package
    assert any((tmp_path / "cache").iterdir())
    site = Path(_run([str(python), "-c", "import hnn, os; print(os.path.dirname(hnn.__file__))"], cwd=elsewhere,
                     env=env).stdout.strip())
    assert not list(site.rglob("*.pt")) and not (site / "datasets" / "cache").exists()
