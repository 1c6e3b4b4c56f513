"""scripts/train.py and the LightningCLI behind it: configs, overrides, errors, logging, resume, NaN stop, DDP."""
from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

import hnn
from hnn.data import HamiltonianDataModule
from hnn.models import HNN, BaselineMLP
from hnn.models.callbacks import FiniteLossGuard, NonFiniteLossError
from hnn.models.checkpoint import AtomicCheckpointIO
from hnn.models.cli import build_cli, run_training

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data_cache")


def _small(tmp_path: Path, cache_dir: Path, *extra: str, steps: int = 4, logger: bool = False) -> list[str]:
    args = ["--trainer.default_root_dir", str(tmp_path / "runs"), "--data.init_args.cache_dir", str(cache_dir),
            "--model.init_args.hidden_dim", "8", "--data.init_args.passes_per_epoch", "2",
            "--trainer.max_steps", str(steps), "--trainer.enable_progress_bar", "false",
            "--trainer.enable_model_summary", "false", "--trainer.log_every_n_steps", "1"]
    if not logger:
        args += ["--trainer.logger", "false"]
    return args + list(extra)


def _train_script():
    spec = importlib.util.spec_from_file_location("hnn_train_script", REPO / "scripts" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read_metrics(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


# ---------------------------------------------------------------------------------------------- the main path
def test_train_script_logs_checkpoints_plots_and_summarises(tmp_path, cache_dir, capsys):
    # the default config takes 10 full-batch steps per batch, _small makes 2 batches an epoch: 40 steps = 2 epochs
    code = _train_script().main(_small(tmp_path, cache_dir, steps=40, logger=True))
    out = capsys.readouterr().out
    assert code == 0
    run_dir = tmp_path / "runs" / "hnn_spring" / "version_0"
    last = run_dir / "checkpoints" / "last.ckpt"
    plots = sorted((run_dir / "phase_portraits").glob("*.png"))
    assert last.is_file() and len(plots) == 2  # one phase portrait per validation epoch (2 epochs)
    assert (run_dir / "config.yaml").is_file()
    assert any((run_dir / "wandb").glob("offline-run-*"))  # wandb ran offline, no network, no prompt
    rows = _read_metrics(run_dir / "metrics.csv")
    columns = set().union(*(r.keys() for r in rows))
    assert {"train_loss", "val_loss", "val_energy_drift", "val_energy_mse", "val_rollout_mse",
            "test_loss"} <= columns
    assert not any("/" in c for c in columns)
    for name in ("test_loss", "energy MSE", str(last), str(plots[-1])):
        assert name in out
    model = hnn.load(last)
    assert isinstance(model, HNN) and model.dim == 2 and model.hparams.hidden_dim == 8


def test_print_config_shows_the_resolved_default_without_dim(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_cli(["--print_config"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "class_path: hnn.models.HNN" in out and "task: spring" in out and "inference_mode: false" in out
    assert "accelerator: auto" in out
    model_block = out[out.index("model:"):out.index("data:")]
    assert "dim:" not in model_block.replace("hidden_dim", "")  # linked from the data, never repeated


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_every_config_parses_and_links_the_state_dimension(config, tmp_path):
    cli = build_cli(["--config", str(config), "--trainer.logger", "false",
                     "--trainer.default_root_dir", str(tmp_path)])
    assert isinstance(cli.model, pl.LightningModule) and isinstance(cli.datamodule, pl.LightningDataModule)
    if hasattr(cli.model, "vector_field"):
        assert cli.model.dim == cli.datamodule.dim
        expected = "BaselineMLP" if config.stem.startswith("baseline") else (
            "DissipativeHNN" if config.stem.startswith("dhnn") else "HNN")
        assert type(cli.model).__name__ == expected
        assert cli.datamodule.task == config.stem.split("_", 1)[1]
    text = config.read_text()
    assert text.lstrip().startswith("#")  # every config explains itself


def test_model_class_and_options_can_be_swapped_on_the_command_line(tmp_path):
    cli = build_cli(["--model", "hnn.models.BaselineMLP", "--model.init_args.depth", "3",
                     "--trainer.logger", "false", "--trainer.max_epochs", "2",
                     "--trainer.default_root_dir", str(tmp_path / "elsewhere")])
    assert isinstance(cli.model, BaselineMLP) and cli.model.hparams.depth == 3
    assert cli.trainer.max_epochs == 2 and cli.trainer.default_root_dir == str(tmp_path / "elsewhere")
    assert cli.trainer.max_steps == 2000  # still from the default config


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("args,needle", [
    (["--model.init_args.hiden_dim", "3"], "hiden_dim"),
    (["--trainer.max_step", "3"], "unrecognized arguments: --trainer.max_step"),
    (["--model", "hnn.models.NoSuchModel"], "NoSuchModel"),
    (["--data.init_args.task", "springg"], "springg"),
    (["--model.init_args.activation", "swish"], "swish"),
])
def test_unknown_keys_classes_and_values_fail_clearly_and_write_nothing(args, needle, tmp_path, capsys):
    with pytest.raises((SystemExit, ValueError)) as info:
        build_cli(args + ["--trainer.default_root_dir", str(tmp_path / "runs")])
    if isinstance(info.value, SystemExit):
        assert info.value.code == 2
        message = capsys.readouterr().err
    else:
        message = str(info.value)
    assert needle in message
    assert not (tmp_path / "runs").exists()


def test_data_model_dimension_mismatch_is_a_clear_error(tmp_path, cache_dir):
    data = HamiltonianDataModule(task="spring", cache_dir=str(cache_dir))
    trainer = pl.Trainer(max_steps=1, logger=False, enable_progress_bar=False, enable_model_summary=False,
                         inference_mode=False, default_root_dir=tmp_path, enable_checkpointing=False)
    with pytest.raises(ValueError, match="state-dimension mismatch.*dimension 2.*dim=4"):
        trainer.fit(HNN(dim=4, hidden_dim=8), datamodule=data)


def test_ckpt_path_of_another_class_or_a_corrupt_file_is_refused_before_anything_is_written(tmp_path, cache_dir,
                                                                                          capsys):
    first = run_training(_small(tmp_path, cache_dir, "--test", "false", "--evaluate", "false", steps=2))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    script = _train_script()
    code = script.main(_small(tmp_path, cache_dir, "--model", "hnn.models.BaselineMLP", "--model.init_args.hidden_dim",
                              "8", "--ckpt_path", first.last_checkpoint))
    assert code == 2
    assert "holds a HNN checkpoint, but the configured model is hnn.models.BaselineMLP" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(Path(first.last_checkpoint).read_bytes()[:1000])
    before.append(corrupt.relative_to(tmp_path))
    assert script.main(_small(tmp_path, cache_dir, "--ckpt_path", str(corrupt))) == 2
    assert "not a readable checkpoint" in capsys.readouterr().err
    assert script.main(_small(tmp_path, cache_dir, "--ckpt_path", str(tmp_path / "nope.ckpt"))) == 2
    assert "no such checkpoint file" in capsys.readouterr().err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == sorted(before)  # nothing new


# ---------------------------------------------------------------------------------------------- resume, NaN
def test_ckpt_path_last_resumes_the_interrupted_run(tmp_path, cache_dir):
    first = run_training(_small(tmp_path, cache_dir, "--test", "false", "--evaluate", "false", steps=4))
    assert first.steps == 4 and first.last_checkpoint.endswith("last.ckpt")
    second = run_training(_small(tmp_path, cache_dir, "--ckpt_path", "last", "--test", "false",
                                 "--evaluate", "false", steps=8))
    assert second.steps == 8
    # the resumed run trained only steps 5..8: its optimizer state continues the first run's
    state = torch.load(second.last_checkpoint, weights_only=True)
    assert state["global_step"] == 8
    first_state = torch.load(first.last_checkpoint, weights_only=True)
    assert first_state["global_step"] == 4
    adam_step = next(iter(state["optimizer_states"][0]["state"].values()))["step"]
    assert int(adam_step) == 8
    assert Path(first.last_checkpoint).parent != Path(second.last_checkpoint).parent  # nothing overwritten


class _PoisonWeights(pl.Callback):
    """Sets every weight to NaN after training step ``at`` (simulating a diverging run)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.at:
            with torch.no_grad():
                for p in pl_module.parameters():
                    p.fill_(float("nan"))


def test_nan_loss_stops_training_naming_the_step_and_last_good_checkpoint(tmp_path, cache_dir):
    data = HamiltonianDataModule(task="spring", cache_dir=str(cache_dir), passes_per_epoch=2)
    trainer = pl.Trainer(
        max_steps=20, logger=False, enable_progress_bar=False, enable_model_summary=False, inference_mode=False,
        default_root_dir=tmp_path, plugins=[AtomicCheckpointIO()],
        callbacks=[ModelCheckpoint(dirpath=tmp_path / "ckpt", save_top_k=1, save_last=True), FiniteLossGuard(),
                   _PoisonWeights(at=5)])
    model = HNN(dim=2, hidden_dim=8, monitor_rollouts=0)
    last = tmp_path / "ckpt" / "last.ckpt"
    with pytest.raises(NonFiniteLossError, match=f"loss became nan at step 5 .*Last good checkpoint: {last}"):
        trainer.fit(model, datamodule=data)
    saved = torch.load(last, weights_only=True)
    assert saved["global_step"] == 4  # written at the end of epoch 2, before the poisoning
    assert all(torch.isfinite(v).all() for v in saved["state_dict"].values())


# ---------------------------------------------------------------------------------------------- variants
def _fit_weights(cache_dir: Path, steps_per_batch: int, max_steps: int, **data_kwargs) -> tuple[int, torch.Tensor]:
    data = HamiltonianDataModule(task="spring", cache_dir=str(cache_dir), passes_per_epoch=3, verbose=False,
                                 **data_kwargs)
    torch.manual_seed(0)
    model = HNN(dim=2, hidden_dim=16, steps_per_batch=steps_per_batch, monitor_rollouts=0)
    trainer = pl.Trainer(max_steps=max_steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, inference_mode=False)
    trainer.fit(model, datamodule=data)
    return trainer.global_step, torch.cat([p.detach().flatten() for p in model.parameters()])


def test_steps_per_batch_takes_the_same_steps_as_one_step_per_batch(cache_dir):
    """k full-batch steps per Lightning batch = the same Adam steps: identical weights, bit for bit (same ops
    in the same order), and max_steps counts optimizer steps even when it is not a multiple of k."""
    steps_1, weights_1 = _fit_weights(cache_dir, 1, 23)
    steps_10, weights_10 = _fit_weights(cache_dir, 10, 23)
    assert steps_1 == steps_10 == 23
    assert torch.equal(weights_1, weights_10)


class _ScheduledHNN(HNN):
    """An HNN with a per-epoch and a per-step LR schedule (what LightningCLI's --lr_scheduler injects)."""

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=1e-2)
        return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5),
                             {"scheduler": torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.97),
                              "interval": "step", "frequency": 2}]


def test_steps_per_batch_steps_lr_schedulers_like_automatic_optimization(cache_dir):
    """Epochs of 20 optimizer steps either way (k = 1: 20 batches; k = 5: 4 batches): the per-step and per-epoch
    schedules must step at the same optimizer steps, so weights and final learning rate are identical."""
    weights, lrs = [], []
    for k, batches_per_epoch in ((1, 20), (5, 4)):
        data = HamiltonianDataModule(task="spring", cache_dir=str(cache_dir), passes_per_epoch=batches_per_epoch,
                                     verbose=False)
        torch.manual_seed(0)
        model = _ScheduledHNN(dim=2, hidden_dim=16, steps_per_batch=k, monitor_rollouts=0)
        trainer = pl.Trainer(max_steps=60, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False, limit_val_batches=0, inference_mode=False)
        trainer.fit(model, datamodule=data)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
        lrs.append(trainer.optimizers[0].param_groups[0]["lr"])
    assert lrs[0] == lrs[1] == pytest.approx(1e-2 * 0.97**30 * 0.5**3)  # 30 per-step decays, 3 epoch halvings
    assert torch.equal(weights[0], weights[1])


def test_steps_per_batch_refuses_mini_batches_and_bad_values(cache_dir):
    with pytest.raises(ValueError, match="full-batch training.*mini-batches of 32"):
        _fit_weights(cache_dir, 4, 8, batch_size=32)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="steps_per_batch"):
            HNN(dim=2, steps_per_batch=bad)


def test_nan_guard_sees_every_step_with_steps_per_batch(tmp_path, cache_dir):
    """With k steps per batch, a loss that turns NaN inside a batch still stops training at that step."""
    data = HamiltonianDataModule(task="spring", cache_dir=str(cache_dir), passes_per_epoch=1)

    class PoisonedHNN(HNN):
        def derivative_loss(self, x, dxdt):
            loss = super().derivative_loss(x, dxdt)
            return loss * float("nan") if self.trainer.global_step == 13 else loss

    trainer = pl.Trainer(
        max_steps=40, logger=False, enable_progress_bar=False, enable_model_summary=False, inference_mode=False,
        default_root_dir=tmp_path, plugins=[AtomicCheckpointIO()], limit_val_batches=0,
        callbacks=[ModelCheckpoint(dirpath=tmp_path / "ckpt", save_top_k=1, save_last=True), FiniteLossGuard()])
    model = PoisonedHNN(dim=2, hidden_dim=8, monitor_rollouts=0, steps_per_batch=5)
    last = tmp_path / "ckpt" / "last.ckpt"
    with pytest.raises(NonFiniteLossError, match=f"loss became nan at step 13 .*Last good checkpoint: {last}"):
        trainer.fit(model, datamodule=data)
    saved = torch.load(last, weights_only=True)
    assert saved["global_step"] == 10  # end of epoch 2 (one batch of 5 steps per epoch), before the NaN
    assert all(torch.isfinite(v).all() for v in saved["state_dict"].values())


def test_rollout_training_and_inference_mode_validation_through_the_cli(tmp_path, cache_dir):
    result = run_training(_small(tmp_path, cache_dir, "--model.init_args.train_on", "rollout",
                                 "--data.init_args.mode", "windows", "--data.init_args.window", "3",
                                 "--trainer.inference_mode", "true", "--evaluate", "false", steps=2))
    assert result.steps == 2 and torch.isfinite(torch.tensor(result.test_metrics["test_loss"]))


@pytest.mark.slow
def test_two_process_cpu_ddp(tmp_path, cache_dir):
    """2-process DDP on CPU (gloo) for a few steps through scripts/train.py."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    cmd = [sys.executable, str(REPO / "scripts" / "train.py"), *_small(tmp_path, cache_dir, steps=4),
           "--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp",
           "--evaluate", "false"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "4 steps" in out.stdout
    last = tmp_path / "runs" / "hnn_spring" / "version_0" / "checkpoints" / "last.ckpt"
    assert last.is_file() and isinstance(hnn.load(last), HNN)


_DDP_STEPS_SCRIPT = """
import sys, warnings
warnings.filterwarnings("ignore")
import torch, pytorch_lightning as pl
from hnn.data.datamodule import DeviceBatches
from hnn.models import HNN

class RankData(pl.LightningDataModule):  # a different full batch on each rank
    def train_dataloader(self):
        g = torch.Generator().manual_seed(100 + self.trainer.global_rank)
        x, y = torch.randn(64, 2, generator=g), torch.randn(64, 2, generator=g)
        return DeviceBatches((x, y), (), batch_size=None, shuffle=False, passes=5)

class Save(pl.Callback):
    def on_train_end(self, trainer, model):
        weights = torch.cat([p.detach().flatten() for p in model.parameters()])
        torch.save(weights, f"w{trainer.global_rank}_k{sys.argv[1]}.pt")

if __name__ == "__main__":
    torch.manual_seed(0)
    model = HNN(dim=2, hidden_dim=8, monitor_rollouts=0, steps_per_batch=int(sys.argv[1]))
    pl.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_steps=12, logger=False, enable_checkpointing=False,
               enable_progress_bar=False, enable_model_summary=False, inference_mode=False,
               callbacks=[Save()]).fit(model, RankData())
"""


@pytest.mark.slow
def test_ddp_synchronises_gradients_with_steps_per_batch(tmp_path):
    """Ranks see different data; if every manual_backward all-reduces, both ranks end with the same weights,
    and k = 4 steps per batch gives exactly the weights of k = 1."""
    script = tmp_path / "ddp_steps.py"
    script.write_text(_DDP_STEPS_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    for k in (1, 4):
        out = subprocess.run([sys.executable, str(script), str(k)], capture_output=True, text=True, timeout=600,
                             env=env, cwd=tmp_path)
        assert out.returncode == 0, out.stderr[-3000:]
    w = {name: torch.load(tmp_path / f"{name}.pt", weights_only=True) for name in ("w0_k1", "w1_k1", "w0_k4", "w1_k4")}
    assert torch.equal(w["w0_k1"], w["w1_k1"]) and torch.equal(w["w0_k4"], w["w1_k4"])
    assert torch.equal(w["w0_k1"], w["w0_k4"])  # without the all-reduce the two ranks would drift apart


def test_wandb_mode_is_offline_unless_the_user_configured_otherwise(tmp_path, monkeypatch):
    from hnn.models.cli import wandb_mode

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "cfg"))
    assert wandb_mode() == "offline"
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "settings").write_text("[default]\nmode = online\n")
    assert wandb_mode() == "online"  # the user's own wandb setting wins
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert wandb_mode() == "disabled"  # and WANDB_MODE wins over everything
