"""The training program (hnn.training.cli, scripts/train.py): configs, overrides, errors, logging, resume, NaN stop."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

import hnn
from hnn.data import HamiltonianDataModule
from hnn.models import DynamicsModule, EnergyModel
from hnn.nn import BaselineField, ControlledBaselineField, DissipativeField, HamiltonianField, PortHamiltonianField
from hnn.paths import configs_dir
from hnn.training.callbacks import FiniteLossGuard, FlushLogsAtCheckpoint, NonFiniteLossError, RunCheckpoint
from hnn.training.checkpoint import AtomicCheckpointIO
from hnn.training.cli import build_cli, main, run_training

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted(configs_dir().glob("*.yaml"))
FIELD_OF_PREFIX = {"hnn": HamiltonianField, "baseline": BaselineField, "dhnn": DissipativeField}


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("WANDB_MODE", "offline")
    yield
    torch.set_num_threads(before)


def _small(tmp_path: Path, *extra: str, steps: int = 4, logger: bool = False, passes: int = 2) -> list[str]:
    args = ["--trainer.default_root_dir", str(tmp_path / "runs"),
            "--model.init_args.field.init_args.hidden_dim", "8", "--data.init_args.passes_per_epoch", str(passes),
            "--trainer.max_steps", str(steps), "--trainer.enable_progress_bar", "false",
            "--trainer.enable_model_summary", "false", "--trainer.log_every_n_steps", "1"]
    if not logger:
        args += ["--trainer.logger", "false"]
    return args + list(extra)


def _read_metrics(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _train_steps(rows: list[dict[str, str]]) -> list[int]:
    return [int(r["step"]) for r in rows if r.get("train_loss")]


# ---------------------------------------------------------------------------------------------- the main path
def test_train_script_logs_checkpoints_plots_and_summarises(tmp_path, capsys):
    # epochs of 20 full-batch steps: 40 steps = 2 epochs = 2 validations
    code = main(_small(tmp_path, steps=40, logger=True, passes=20))
    out = capsys.readouterr().out
    assert code == 0
    run_dir = tmp_path / "runs" / "hnn_spring" / "version_0"
    last = run_dir / "checkpoints" / "last.ckpt"
    plots = sorted((run_dir / "phase_portraits").glob("*.png"))
    assert last.is_file() and [p.name for p in plots] == ["epoch00000_step0000020.png", "epoch00001_step0000040.png"]
    assert (run_dir / "config.yaml").is_file()
    assert any((run_dir / "wandb").glob("offline-run-*"))  # wandb ran offline, no network, no prompt
    rows = _read_metrics(run_dir / "metrics.csv")
    columns = set().union(*(r.keys() for r in rows))
    assert {"train_loss", "val_loss", "val_energy_drift", "val_energy_mse", "val_rollout_mse",
            "test_loss"} <= columns
    assert not any("/" in c for c in columns)
    assert _train_steps(rows) == list(range(40))  # log_every_n_steps 1: every step once, one step axis
    for name in ("test_loss", "energy MSE", str(last), str(plots[-1]), "40 steps"):
        assert name in out
    model = hnn.load(last)
    assert isinstance(model, DynamicsModule) and isinstance(model.field, HamiltonianField)
    assert model.dim == 2 and model.field.hidden_dim == 8


def test_scripts_train_py_is_the_same_program(tmp_path):
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "train.py"), *_small(tmp_path, steps=3),
                          "--evaluate", "false"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "== HamiltonianField on spring: 3 steps" in out.stdout


def test_print_config_shows_the_resolved_default_without_dim(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_cli(["--print_config"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "class_path: hnn.models.DynamicsModule" in out and "class_path: hnn.nn.HamiltonianField" in out
    assert "task: spring" in out and "inference_mode: false" in out and "accelerator: auto" in out
    model_block = out[out.index("model:"):out.index("data:")]
    assert "dim:" not in model_block.replace("hidden_dim", "")  # linked from the data, never repeated
    assert "\noptimizer:" not in out and "\nlr_scheduler:" not in out  # the model's optimizer is the only one


def test_a_config_of_ones_own_replaces_the_default_instead_of_merging_with_it(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text(textwrap.dedent("""\
        model:
          class_path: hnn.models.DynamicsModule
          init_args:
            field:
              class_path: hnn.nn.BaselineField
        data:
          class_path: hnn.data.HamiltonianDataModule
          init_args:
            task: pendulum
        """))
    cli = build_cli(["--config", str(mine), "--trainer.logger", "false", "--trainer.default_root_dir", str(tmp_path)])
    assert isinstance(cli.model.field, BaselineField)
    # nothing leaks in from the default hnn_spring.yaml: Lightning's and the classes' own defaults apply
    assert cli.datamodule.passes_per_epoch == 100 and cli.trainer.max_steps == -1
    assert cli.model.configure_optimizers().param_groups[0]["weight_decay"] == 0.0


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_every_config_parses_and_links_the_state_dimension(config, tmp_path):
    cli = build_cli(["--config", str(config), "--trainer.logger", "false",
                     "--trainer.default_root_dir", str(tmp_path)])
    assert isinstance(cli.model, pl.LightningModule) and isinstance(cli.datamodule, pl.LightningDataModule)
    prefix, task = config.stem.split("_", 1)
    if prefix == "ebm":
        assert isinstance(cli.model, EnergyModel) and cli.model.field.dim == cli.datamodule.dim == 2
    elif prefix == "hgan":  # the Hamiltonian GAN and its twins: the motion model is the only difference
        from hnn.models import HamiltonianGAN
        from hnn.nn import GRUMotion

        system = task.rsplit("_", 1)[-1]
        kind = task.rsplit("_", 1)[0].removeprefix("video_")  # hgan_video_mlp_twin_pendulum: the video twins
        expected = {"mlp_twin": BaselineField, "gru_twin": GRUMotion}.get(kind, HamiltonianField)
        assert isinstance(cli.model, HamiltonianGAN) and type(cli.model.field) is expected
        assert cli.model.field.dim == cli.datamodule.dim == 2 and cli.datamodule.system_name == system
        assert cli.model.hparams.steps == cli.datamodule.steps and cli.model.hparams.dt == cli.datamodule.dt
        if task.startswith("video_"):  # a frame decoder learns its own observation: no fixed angle read-off
            assert cli.model.frames and cli.model.hparams.angles == [False]
            assert cli.model.decoder.image_size == cli.model.discriminator.image_size == cli.datamodule.image_size
        else:
            assert cli.model.hparams.angles == [system == "pendulum"]
    elif task.startswith("gym_"):  # a controlled model of a gymnasium env: the field fits the env's facts
        field = cli.model.field
        assert isinstance(cli.model, DynamicsModule)
        assert type(field) is (PortHamiltonianField if prefix == "phnn" else ControlledBaselineField)
        assert (field.dim, field.n_u, tuple(field.angles)) == (cli.datamodule.dim, cli.datamodule.n_u,
                                                               tuple(cli.datamodule.angles))
        assert config.stem.split("_")[-1] in cli.datamodule.env_id.lower()
    else:
        assert isinstance(cli.model, DynamicsModule) and type(cli.model.field) is FIELD_OF_PREFIX[prefix]
        assert cli.model.dim == cli.datamodule.dim
        assert cli.datamodule.task == task.removesuffix("_separable")
    text = config.read_text()
    assert text.lstrip().startswith("#")  # every config explains itself
    assert (REPO / "configs" / config.name).read_text() == text  # the shipped configs are the repository's


def test_a_new_architecture_is_a_config_change(tmp_path, capsys):
    """configs/hnn_spring_separable.yaml: a separable field with 3 layers, rolled out by leapfrog, no code change."""
    config = configs_dir() / "hnn_spring_separable.yaml"
    code = main(["--config", str(config), *_small(tmp_path, steps=20, passes=10), "--evaluate", "false"])
    assert code == 0
    last = tmp_path / "runs" / "hnn_spring" / "version_0" / "checkpoints" / "last.ckpt"
    model = hnn.load(last)
    assert model.field.structure == "separable" and model.field.depth == 3 and model.separable
    assert model.hparams.integrator == "leapfrog"
    assert len(model.field.energy_net.kinetic.mlp.layers) == 7  # 3 hidden layers + activations + head
    x0 = torch.tensor([[0.5, 0.0]])
    rolled = hnn.integrate(model, x0, torch.linspace(0, 1, 11), method="leapfrog")  # the splitting method applies
    assert rolled.shape == (11, 1, 2) and bool(torch.isfinite(rolled).all())


def test_model_classes_and_options_can_be_swapped_on_the_command_line(tmp_path):
    cli = build_cli(["--model.init_args.field", "hnn.nn.BaselineField", "--model.init_args.field.init_args.depth", "3",
                     "--trainer.logger", "false", "--trainer.max_epochs", "2",
                     "--trainer.default_root_dir", str(tmp_path / "elsewhere")])
    assert isinstance(cli.model.field, BaselineField) and cli.model.field.depth == 3
    assert cli.trainer.max_epochs == 2 and cli.trainer.default_root_dir == str(tmp_path / "elsewhere")
    assert cli.trainer.max_steps == 2000  # still from the default config
    assert cli.run_name == "baseline_spring"


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("args,needle", [
    (["--model.init_args.field.init_args.hiden_dim", "3"], "hiden_dim"),
    (["--trainer.max_step", "3"], "unrecognized arguments: --trainer.max_step"),
    (["--model", "hnn.models.NoSuchModel"], "NoSuchModel"),
    (["--data.init_args.task", "springg"], "springg"),
    (["--model.init_args.field.init_args.activation", "swish"], "swish"),
    (["--data.init_args.val_fraction", "1.5"], "val_fraction"),
])
def test_unknown_keys_classes_and_values_fail_clearly_and_write_nothing(args, needle, tmp_path, capsys):
    code = None
    try:
        code = main(args + ["--trainer.default_root_dir", str(tmp_path / "runs")])
    except SystemExit as exit_info:  # jsonargparse's own parse errors
        code = exit_info.code
    assert code == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


class _Broken(pl.Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        raise ValueError("a bug deep inside training")


def test_a_bug_during_training_keeps_its_traceback(tmp_path, monkeypatch):
    """Bad input gets one line; an error raised while training is a bug and propagates (with its traceback)."""
    cli = build_cli(_small(tmp_path, "--evaluate", "false"))
    cli.trainer.callbacks.append(_Broken())
    monkeypatch.setattr("hnn.training.cli.build_cli", lambda argv=None: cli)
    with pytest.raises(ValueError, match="a bug deep inside training"):
        main([])


def test_data_model_dimension_mismatch_is_a_clear_error(tmp_path):
    data = HamiltonianDataModule(task="spring")
    trainer = pl.Trainer(max_steps=1, logger=False, enable_progress_bar=False, enable_model_summary=False,
                         inference_mode=False, default_root_dir=tmp_path, enable_checkpointing=False)
    with pytest.raises(ValueError, match="built for state dimension 4, but the state has shape \\(\\d+, 2\\)"):
        trainer.fit(DynamicsModule(HamiltonianField(4, hidden_dim=8)), datamodule=data)


def test_ckpt_path_of_another_class_or_a_corrupt_file_is_refused_before_anything_is_written(tmp_path, capsys):
    first = run_training(_small(tmp_path, "--test", "false", "--evaluate", "false", steps=2))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    ebm = ["--config", str(configs_dir() / "ebm_toy2d.yaml"), "--trainer.default_root_dir", str(tmp_path / "runs")]
    assert main(ebm + ["--ckpt_path", first.last_checkpoint]) == 2
    assert ("holds a DynamicsModule checkpoint, but the configured model is hnn.models.EnergyModel"
            in capsys.readouterr().err)
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(Path(first.last_checkpoint).read_bytes()[:1000])
    before.append(corrupt.relative_to(tmp_path))
    assert main(_small(tmp_path, "--ckpt_path", str(corrupt))) == 2
    assert "not a readable checkpoint" in capsys.readouterr().err
    assert main(_small(tmp_path, "--ckpt_path", str(tmp_path / "nope.ckpt"))) == 2
    assert "no such checkpoint file" in capsys.readouterr().err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == sorted(before)  # nothing new


# ---------------------------------------------------------------------------------------------- plain Lightning
class _CountValidations(pl.Callback):
    def __init__(self) -> None:
        self.steps: list[int] = []

    def on_validation_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self.steps.append(trainer.global_step)


def test_plain_trainer_validates_at_a_sane_interval_and_writes_nothing_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    counter = _CountValidations()
    trainer = pl.Trainer(max_steps=250, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, inference_mode=False, callbacks=[counter])
    torch.manual_seed(0)
    trainer.fit(DynamicsModule(HamiltonianField(2, hidden_dim=8)), HamiltonianDataModule("spring", verbose=False))
    assert trainer.global_step == 250
    assert counter.steps == [100, 200]  # an epoch is 100 full-batch steps, not one
    assert list(tmp_path.iterdir()) == []  # no figures, no data cache, nothing


# ---------------------------------------------------------------------------------------------- resume, NaN
def test_ckpt_path_last_resumes_the_run_in_its_own_folder(tmp_path, capsys):
    first = run_training(_small(tmp_path, "--test", "false", "--evaluate", "false", steps=4, logger=True))
    assert first.steps == 4 and first.last_checkpoint.endswith("last.ckpt")
    capsys.readouterr()
    with pytest.warns() as record:
        second = run_training(_small(tmp_path, "--ckpt_path", "last", "--test", "false", "--evaluate", "false",
                                     steps=8, logger=True))
        import warnings

        warnings.warn("sentinel")  # pytest.warns needs one; every other warning must be absent
    assert [str(w.message) for w in record] == ["sentinel"]  # no 'dirpath has changed', no 'not empty' warning
    assert second.steps == 4 and second.total_steps == 8 and second.resumed_from == first.last_checkpoint
    assert second.run_dir == first.run_dir  # the same version folder ...
    assert sorted(p.name for p in (tmp_path / "runs" / "hnn_spring").iterdir()) == ["version_0"]
    state = torch.load(second.last_checkpoint, weights_only=True)
    assert state["global_step"] == 8
    adam_step = next(iter(state["optimizer_states"][0]["state"].values()))["step"]
    assert int(adam_step) == 8  # ... continuing the first run's optimizer state
    assert _train_steps(_read_metrics(Path(second.run_dir) / "metrics.csv")) == list(range(8))
    assert second.total_seconds >= second.seconds > 0


_KILLER = """
import os, signal
import pytorch_lightning as pl

class KillAt(pl.Callback):
    def __init__(self, step: int = 0):
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)
"""


def test_kill_9_then_resume_continues_in_the_same_folder_with_every_step_logged_once(tmp_path):
    """Epochs of 10 steps; killed at step 25 (after the step-20 checkpoint, with steps 20-24 already logged), then
    resumed with a larger max_epochs: trains steps 21-30 in place, metrics.csv holds steps 0-29 once each."""
    (tmp_path / "killer.py").write_text(_KILLER)
    # WANDB_SERVICE: an earlier in-process run of this test worker started a wandb service; children that inherit
    # it share it, and the killed child's run would stay registered there (a separate command has its own service)
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"}
    env.update(PYTHONPATH=str(tmp_path), OMP_NUM_THREADS="1", WANDB_MODE="offline")
    common = [sys.executable, str(REPO / "scripts" / "train.py"), *_small(tmp_path, steps=100, logger=True, passes=10)]
    killed = subprocess.run(common + ["--trainer.callbacks+=killer.KillAt", "--trainer.callbacks.step", "25"],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert killed.returncode == -9, killed.stderr[-3000:]
    run_dir = tmp_path / "runs" / "hnn_spring" / "version_0"
    before = _train_steps(_read_metrics(run_dir / "metrics.csv"))
    assert before[:20] == list(range(20)) and max(before) > 19  # rows past the step-20 checkpoint were written too
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 20
    resumed = subprocess.run(common + ["--trainer.max_epochs", "3", "--ckpt_path", "last"], capture_output=True,
                             text=True, timeout=300, cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "10 steps in this run" in resumed.stdout and "30 in total" in resumed.stdout
    assert sorted(p.name for p in (tmp_path / "runs" / "hnn_spring").iterdir()) == ["version_0"]
    steps = _train_steps(_read_metrics(run_dir / "metrics.csv"))
    assert sorted(steps) == list(range(30)) and not [s for s, n in Counter(steps).items() if n > 1]
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 30
    offline = sorted(p.name for p in (run_dir / "wandb").glob("offline-run-*"))
    assert len(offline) == 2 and len({name.rsplit("-", 1)[1] for name in offline}) == 1  # one wandb run id
    again = subprocess.run(common + ["--trainer.max_epochs", "3", "--ckpt_path", "last"], capture_output=True,
                           text=True, timeout=300, cwd=tmp_path, env=env)
    assert again.returncode == 0 and "0 steps in this run" in again.stdout and "already reached" in again.stdout
    assert "checkpointing off" not in again.stdout and str(run_dir / "checkpoints" / "last.ckpt") in again.stdout


def test_resuming_keeps_the_metrics_rows_before_the_checkpoint_and_drops_the_later_ones(tmp_path):
    """A killed run may have written rows past its last checkpoint (Lightning writes every 100 steps); they are
    replayed by the resumed run, so they go: rows of steps < the checkpoint's global step stay, verbatim."""
    from pytorch_lightning.loggers import CSVLogger

    from hnn.training.cli import _continue_metrics

    folder = tmp_path / "runs" / "hnn_spring" / "version_0"
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("x: 1\n")  # a used run folder (Lightning would warn and delete the csv)
    lines = ["epoch,step,train_loss,val_loss"] + [f"0,{k},0.{k + 1},"for k in range(25)] + ["0,19,,0.5"]
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
    logger = CSVLogger(save_dir=str(tmp_path / "runs"), name="hnn_spring", version=0)
    _continue_metrics(logger, resume_step=20)
    rows = _read_metrics(folder / "metrics.csv")
    assert _train_steps(rows) == list(range(20)) and rows[5]["train_loss"] == "0.6"
    assert [r["val_loss"] for r in rows if r.get("val_loss")] == ["0.5"]
    assert not (folder / "metrics.csv.resume").exists()
    logger.log_metrics({"train_loss": 9.0}, step=20)
    logger.save()
    assert _train_steps(_read_metrics(folder / "metrics.csv")) == list(range(21))


def test_a_run_that_stops_inside_a_validation_interval_still_checkpoints_its_last_step(tmp_path):
    """Epochs of 10 steps, validation (and checkpoints) every 2nd epoch, 25 steps: last.ckpt holds step 25, and a
    resume from it trains on from there."""
    first = run_training(_small(tmp_path, "--trainer.check_val_every_n_epoch", "2", "--test", "false", "--evaluate",
                                "false", steps=25, passes=10))
    assert first.last_checkpoint.endswith("last.ckpt")
    assert torch.load(first.last_checkpoint, weights_only=True)["global_step"] == 25
    second = run_training(_small(tmp_path, "--trainer.check_val_every_n_epoch", "2", "--ckpt_path", "last", "--test",
                                 "false", "--evaluate", "false", steps=40, passes=10))
    assert second.steps == 15 and second.total_steps == 40
    assert torch.load(second.last_checkpoint, weights_only=True)["global_step"] == 40


@pytest.mark.parametrize("kwargs", [dict(), dict(monitor="val_loss", mode="max"), dict(every_n_train_steps=7),
                                    dict(every_n_epochs=3, save_last=True)])
def test_run_checkpoint_keeps_model_checkpoints_state_key_so_checkpoints_move_between_the_two(tmp_path, kwargs):
    ours, lightnings = RunCheckpoint(dirpath=tmp_path, **kwargs), ModelCheckpoint(dirpath=tmp_path, **kwargs)
    assert ours.state_key == lightnings.state_key
    assert ours.state_dict().keys() == lightnings.state_dict().keys()


def test_the_default_run_has_one_checkpoint_callback_that_flushes_the_logs(tmp_path):
    cli = build_cli(_small(tmp_path, "--test", "false", "--evaluate", "false", steps=5, passes=5))
    kinds = [type(c) for c in cli.trainer.callbacks]
    assert kinds.count(RunCheckpoint) == 1 and not any(issubclass(k, FlushLogsAtCheckpoint) for k in kinds)
    own = build_cli(_small(tmp_path, "--test", "false", "--evaluate", "false", "--trainer.callbacks+",
                           "ModelCheckpoint", steps=5, passes=5))
    kinds = [type(c) for c in own.trainer.callbacks]
    assert RunCheckpoint not in kinds and kinds.count(FlushLogsAtCheckpoint) == 1


class _PoisonWeights(pl.Callback):
    """Sets every weight to NaN after training step ``at`` (simulating a diverging run)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.at:
            with torch.no_grad():
                for p in pl_module.parameters():
                    p.fill_(float("nan"))


def test_nan_loss_stops_training_naming_the_step_and_last_good_checkpoint(tmp_path):
    data = HamiltonianDataModule(task="spring", passes_per_epoch=2, val_fraction=0.0)
    trainer = pl.Trainer(
        max_steps=20, logger=False, enable_progress_bar=False, enable_model_summary=False, inference_mode=False,
        default_root_dir=tmp_path, plugins=[AtomicCheckpointIO()],
        callbacks=[ModelCheckpoint(dirpath=tmp_path / "ckpt", save_top_k=1, save_last=True), FiniteLossGuard(),
                   _PoisonWeights(at=5)])
    model = DynamicsModule(HamiltonianField(2, hidden_dim=8))
    last = tmp_path / "ckpt" / "last.ckpt"
    with pytest.raises(NonFiniteLossError, match=f"loss became nan at step 5 .*Last good checkpoint: {last}"):
        trainer.fit(model, datamodule=data)
    saved = torch.load(last, weights_only=True)
    assert saved["global_step"] == 4  # written at the end of epoch 2, before the poisoning
    assert all(torch.isfinite(v).all() for v in saved["state_dict"].values())


def test_rollout_training_and_inference_mode_validation_through_the_cli(tmp_path):
    result = run_training(_small(tmp_path, "--data.init_args.mode", "windows", "--data.init_args.window", "3",
                                 "--trainer.inference_mode", "true", "--evaluate", "false", steps=2))
    assert result.steps == 2 and torch.isfinite(torch.tensor(result.test_metrics["test_loss"]))


def test_a_clean_default_run_prints_no_warning(tmp_path):
    """No warning the project can fix or silence: Lightning's logger advertisement, wandb's 'anonymous' setting, the
    _pytree deprecation, 'Total Flops 0' (the model has an example input now)."""
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"}  # a fresh command: its own wandb service
    env.update(OMP_NUM_THREADS="1", WANDB_MODE="offline")
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "train.py"), "--trainer.max_steps", "5",
                          "--trainer.default_root_dir", str(tmp_path / "runs")], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout + out.stderr
    for noise in ("Warning", "warn(", "💡", "anonymous", "_pytree", "deprecated"):
        assert noise not in text, noise
    total_flops = next(line for line in text.splitlines() if "Total Flops" in line)
    assert total_flops.split()[0] not in ("0", "0.0")


@pytest.mark.slow
def test_two_process_cpu_ddp(tmp_path):
    """2-process DDP on CPU (gloo) for a few steps through scripts/train.py."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    cmd = [sys.executable, str(REPO / "scripts" / "train.py"), *_small(tmp_path, steps=4),
           "--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp",
           "--evaluate", "false"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "4 steps" in out.stdout
    last = tmp_path / "runs" / "hnn_spring" / "version_0" / "checkpoints" / "last.ckpt"
    assert last.is_file() and isinstance(hnn.load(last), DynamicsModule)
    assert sorted(p.name for p in (tmp_path / "runs" / "hnn_spring").iterdir()) == ["version_0"]


def test_wandb_mode_is_offline_unless_the_user_configured_otherwise(tmp_path, monkeypatch):
    from hnn.training.cli import wandb_mode

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "cfg"))
    assert wandb_mode() == "offline"
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "settings").write_text("[default]\nmode = online\n")
    assert wandb_mode() == "online"  # the user's own wandb setting wins
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert wandb_mode() == "disabled"  # and WANDB_MODE wins over everything


# ------------------------------------------------------------------------------- per-step Lightning machinery
def test_the_default_profiler_is_a_no_op_and_a_configured_one_replaces_it(tmp_path):
    from pytorch_lightning.profilers import SimpleProfiler

    from hnn.training.cli import NoProfiler

    trainer = build_cli(_small(tmp_path)).trainer
    assert isinstance(trainer.profiler, NoProfiler)
    with trainer.profiler.profile("a") as first, trainer.profiler.profile("b") as second:
        assert first is None and second is None  # one shared no-op context, nothing recorded
    assert build_cli(_small(tmp_path, "--trainer.profiler", "simple")).trainer.profiler.__class__ is SimpleProfiler


def test_the_training_bar_draws_once_per_refresh_and_shows_what_lightnings_bar_shows(tmp_path, monkeypatch):
    from pytorch_lightning.callbacks import TQDMProgressBar
    from pytorch_lightning.callbacks.progress.tqdm_progress import Tqdm

    draws: list[str] = []
    original = Tqdm.refresh

    def counting_refresh(self, *args, **kwargs):
        if str(getattr(self, "desc", "")).startswith("Epoch"):
            draws.append(str(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Tqdm, "refresh", counting_refresh)

    def run(*extra: str) -> list[str]:
        draws.clear()
        args = _small(tmp_path, *extra, steps=40, passes=20, logger=True)
        args[args.index("--trainer.enable_progress_bar") + 1] = "true"
        assert main(args + ["--test", "false", "--evaluate", "false"]) == 0
        return list(draws)

    ours = run()  # default: hnn's TrainingProgressBar(refresh_rate=20)
    theirs = run("--trainer.callbacks+=pytorch_lightning.callbacks.TQDMProgressBar",
                 "--trainer.callbacks.refresh_rate=20")
    # 40 steps, a refresh every 20: Lightning's bar draws the count and then the metrics at each of the 2 refreshes
    assert len(theirs) - len(ours) == 2
    strip = lambda line: line.split("|")[0] + line.split("]")[-1].split(",", 1)[-1]  # noqa: E731 (no rates/times)
    assert strip(ours[-1]) == strip(theirs[-1])
