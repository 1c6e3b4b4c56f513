"""Checkpoints: hnn.load (safe, right class, eval mode), clear errors on bad files, atomic writes."""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
import hnn
from hnn.data import DerivativeBatch
from hnn.data.datamodule import DeviceBatches
from hnn.models import DynamicsModule, EnergyModel
from hnn.nn import BaselineField, DissipativeField, EnergyNet, HamiltonianField
from hnn.training.checkpoint import AtomicCheckpointIO, CheckpointError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _loader(dim: int = 2, n: int = 64) -> DeviceBatches:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, dim, generator=g)
    n_half = dim // 2
    dxdt = torch.cat([2 * x[:, n_half:], -2 * x[:, :n_half]], dim=-1)  # H = |q|² + |p|²
    return DeviceBatches((x, dxdt), batch_size=None, batch_type=DerivativeBatch)


def _module(field=None) -> DynamicsModule:
    return DynamicsModule(field if field is not None else HamiltonianField(2, hidden_dim=8))


def _fit(tmp_path: Path, model: pl.LightningModule, steps: int = 4) -> Path:
    ckpt_dir = tmp_path / "ckpt"
    trainer = pl.Trainer(
        max_steps=steps, accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
        enable_model_summary=False, inference_mode=False, default_root_dir=tmp_path,
        callbacks=[ModelCheckpoint(dirpath=ckpt_dir, save_last=True, every_n_train_steps=2)],
        plugins=[AtomicCheckpointIO()],
    )
    trainer.fit(model, train_dataloaders=_loader(model.dim), val_dataloaders=_loader(model.dim, 16))
    assert trainer.global_step == steps
    return ckpt_dir / "last.ckpt"


@pytest.mark.parametrize("field", [HamiltonianField(2, hidden_dim=8), BaselineField(2, hidden_dim=8),
                                   HamiltonianField(2, hidden_dim=8, depth=3, structure="separable"),
                                   DissipativeField(2, hidden_dim=8)], ids=lambda f: f"{type(f).__name__}")
def test_load_rebuilds_the_field_from_the_checkpoint_alone_in_eval_mode(tmp_path, field):
    torch.manual_seed(0)
    model = DynamicsModule(field, integrator="implicit_midpoint")
    path = _fit(tmp_path, model)
    loaded = hnn.load(path)
    assert type(loaded) is DynamicsModule and not loaded.training and type(loaded.field) is type(field)
    assert loaded.field.config() == field.config() and loaded.hparams.integrator == "implicit_midpoint"
    x = torch.randn(5, 2)
    assert torch.equal(loaded.vector_field(x), model.vector_field(x).detach())
    # the checkpoint holds plain types only: it loads with weights_only=True
    raw = torch.load(path, weights_only=True)
    assert raw["hnn_model_class"] == "hnn.models.dynamics.DynamicsModule" and raw["hyper_parameters"]["field"] == \
        field.config()
    # Lightning's conventional name is the same loader
    assert torch.equal(DynamicsModule.load_from_checkpoint(path).vector_field(x), loaded.vector_field(x))


def test_load_in_a_fresh_process_needs_no_config_file(tmp_path):
    torch.manual_seed(0)
    model = _module()
    path = _fit(tmp_path, model)
    x = torch.tensor([[0.3, -0.2]])
    expected = model.vector_field(x).detach()
    code = textwrap.dedent(f"""
        import torch, hnn
        m = hnn.load({str(path)!r})
        print(repr(m.vector_field(torch.tensor([[0.3, -0.2]])).detach().tolist()))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=tmp_path / "ckpt")
    assert out.returncode == 0, out.stderr
    assert torch.tensor(eval(out.stdout.strip().splitlines()[-1])).allclose(expected, atol=0)


def test_energy_model_round_trips(tmp_path):
    torch.manual_seed(0)
    model = EnergyModel(EnergyNet(2, width=8, depth=2, activation="silu"), buffer_size=32, sampler_steps=1)
    x = torch.randn(64, 2)
    trainer = pl.Trainer(max_steps=2, logger=False, enable_progress_bar=False, enable_model_summary=False,
                         default_root_dir=tmp_path, callbacks=[ModelCheckpoint(dirpath=tmp_path / "ckpt",
                                                                               save_last=True)])
    trainer.fit(model, train_dataloaders=torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x),
                                                                      batch_size=32))
    loaded = hnn.load(tmp_path / "ckpt" / "last.ckpt")
    assert type(loaded) is EnergyModel and torch.equal(loaded.energy(x), model.energy(x).detach())
    assert loaded.hparams.buffer_size == 32 and torch.equal(loaded.replay, model.replay)


def test_wrong_class_is_one_clear_error(tmp_path):
    path = _fit(tmp_path, _module())
    with pytest.raises(CheckpointError, match="holds a DynamicsModule checkpoint, not a EnergyModel"):
        EnergyModel.load_from_checkpoint(path)
    with pytest.raises(CheckpointError, match="holds a DynamicsModule checkpoint, not a EnergyModel"):
        hnn.load(path, expected_class=EnergyModel)
    assert isinstance(hnn.load(path, expected_class=DynamicsModule), DynamicsModule)


def test_an_old_format_checkpoint_gets_a_clear_message(tmp_path):
    old = tmp_path / "old.ckpt"
    torch.save({"state_dict": {"net.mlp.layers.0.weight": torch.zeros(8, 2)}, "hnn_model_class":
                "hnn.models.hamiltonian.HNN", "hyper_parameters": {"dim": 2, "hidden_dim": 8}}, old)
    with pytest.raises(CheckpointError, match="HNN of hnn 0.1.*injects a field into DynamicsModule.*Retrain"):
        hnn.load(old)
    no_field = tmp_path / "no_field.ckpt"
    torch.save({"state_dict": {}, "hnn_model_class": "hnn.models.dynamics.DynamicsModule",
                "hyper_parameters": {"integrator": "rk4"}}, no_field)
    with pytest.raises(CheckpointError, match="no field record"):
        hnn.load(no_field)


class _Payload:
    """Unpickling this object calls open(marker, 'w'): the file appears iff pickled code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_code_payload_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "payload_ran"
    evil = tmp_path / "evil.ckpt"
    good = _fit(tmp_path, _module())
    checkpoint = torch.load(good, weights_only=True)
    checkpoint["hyper_parameters"]["note"] = _Payload(str(marker))
    torch.save(checkpoint, evil)
    with pytest.raises(CheckpointError, match="refusing to load .*could run code"):
        hnn.load(evil)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="refusing to load"):
        DynamicsModule.load_from_checkpoint(evil)
    assert not marker.exists()
    # control: the payload is real — an unsafe load runs it
    torch.load(evil, weights_only=False)
    assert marker.exists()


def test_bad_files_give_one_clear_error(tmp_path):
    good = _fit(tmp_path, _module())
    data = good.read_bytes()
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(data[: len(data) // 2])
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint\n")
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor)
    no_class = tmp_path / "no_class.ckpt"
    torch.save({"state_dict": {}}, no_class)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}, "hnn_model_class": "torch.nn.Linear"}, foreign)
    before = {p: p.read_bytes() for p in (truncated, text, tensor)}
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        hnn.load(truncated)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        hnn.load(text)
    with pytest.raises(CheckpointError, match="not a Lightning checkpoint"):
        hnn.load(tensor)
    with pytest.raises(CheckpointError, match="does not record which model class"):
        hnn.load(no_class)
    with pytest.raises(CheckpointError, match="not an hnn model class"):
        hnn.load(foreign)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        hnn.load(tmp_path / "missing.ckpt")
    with pytest.raises(CheckpointError, match="not a file"):
        hnn.load(tmp_path)
    assert all(p.read_bytes() == b for p, b in before.items())  # nothing overwritten
    assert issubclass(CheckpointError, ValueError)


def test_weights_that_do_not_fit_are_a_clear_error(tmp_path):
    path = _fit(tmp_path, _module())
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["hyper_parameters"]["field"]["init_args"]["hidden_dim"] = 9
    bad = tmp_path / "bad.ckpt"
    torch.save(checkpoint, bad)
    with pytest.raises(CheckpointError, match="do not fit DynamicsModule"):
        hnn.load(bad)
    checkpoint["hyper_parameters"]["field"]["init_args"]["activation"] = "swish"
    torch.save(checkpoint, bad)
    with pytest.raises(CheckpointError, match="cannot rebuild DynamicsModule.*swish"):
        hnn.load(bad)


_KILL_MID_WRITE = textwrap.dedent("""
    import os, signal, sys, torch
    from hnn.training.checkpoint import AtomicCheckpointIO
    target = sys.argv[1]
    real_save = torch.save

    def save_half_then_die(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        f.flush()
        size = f.tell()
        f.truncate(size // 2)  # the process dies with half a file written
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    torch.save = save_half_then_die
    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.ones(50000)}, "step": 2}, target)
""")


def test_a_run_killed_mid_write_leaves_last_ckpt_intact(tmp_path):
    good = _fit(tmp_path, _module())
    before = good.read_bytes()
    out = subprocess.run([sys.executable, "-c", _KILL_MID_WRITE, str(good)], capture_output=True, timeout=120,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == -signal.SIGKILL, out.stderr.decode()
    assert good.read_bytes() == before  # the old checkpoint is untouched ...
    assert isinstance(hnn.load(good), DynamicsModule)  # ... and still loads
    leftovers = [p for p in good.parent.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]
    assert len(leftovers) == 1  # the torn write stayed in a hidden temp file
    # and a completed atomic write replaces the file in one step
    AtomicCheckpointIO().save_checkpoint({"state_dict": {}, "marker": 7}, str(good))
    assert torch.load(good, weights_only=True)["marker"] == 7


def test_load_pretrained_unknown_name_lists_choices():
    with pytest.raises(ValueError,
                       match="unknown pretrained model 'nope'; available: baseline_gym_acrobot, .*hnn_spring"):
        hnn.load_pretrained("nope")


def test_pickle_module_sanity():
    # the payload class above really is picklable with a code-running reduce (guards the test itself)
    assert pickle.dumps(_Payload("x"))
