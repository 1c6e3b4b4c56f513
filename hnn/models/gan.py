"""``HamiltonianGAN``: a GAN whose generator moves a latent state with a learned Hamiltonian.

Generator, for noise z ~ N(0, I) ``[B, noise_dim]``:

    x₀ = N_θ(z)                                   (an MLP noise map to the latent state [q₀, p₀])
    x_k = integrate(field, x₀, t_k = k·dt)         k = 0 … T − 1, through ``hnn.integrate`` (``integrator``)
    y_k = decode(x_k)                              (the observation of each step)

with ``field`` injected: a :class:`~hnn.nn.HamiltonianField` (``structure="separable"`` + ``leapfrog``: explicit and
exactly symplectic; a general H with ``implicit_midpoint``), or the twins — a :class:`~hnn.nn.BaselineField` (an
unconstrained MLP vector field through the same ``hnn.integrate``) or a :class:`~hnn.nn.GRUMotion` (a recurrent map,
no time step). ``decoder="identity"`` observes the latent state itself with angle coordinates as (cos q, sin q)
(``angles``: one flag per q), so the latent *is* the phase space; ``decoder="mlp"`` maps it through a small MLP to the
same observation space. A real trajectory x ``[B, T, 2n]`` is observed by the same fixed map (:meth:`observe`), and
:meth:`read_state` inverts it (q = atan2(sin, cos)) for the physics metrics.

**Videos.** ``decoder`` may also be an injected per-frame network (:class:`~hnn.nn.FrameDecoder` or
:class:`~hnn.nn.BroadcastDecoder`: latent ``[..., 2n]`` → frame ``[..., C, S, S]``, its ``latent_dim`` = 2n). The
data then serves the observations themselves — clips ``[B, T, C, S, S]`` (:class:`~hnn.data.VideoDataModule`)
instead of states — and there is no fixed :meth:`observe` / :meth:`read_state`: the evaluation reads the state off
the frames (:func:`hnn.evaluation.read_states`). The speed calibration then matches a time scale instead (below).

The injected ``discriminator`` (:class:`~hnn.nn.SequenceDiscriminator`, or :class:`~hnn.nn.ClipDiscriminator` for
clips) scores whole sequences; an optional ``frame_discriminator`` (:class:`~hnn.nn.FrameDiscriminator`) scores
every frame on its own, ``[B, T]`` logits, and its BCE terms (averaged over frames) are added to both losses, with
its own R1 term, per frame: E over frames of ‖∇_frame D(frame)‖² (as its BCE, the penalty is averaged per logit).
Losses (non-saturating, with one-sided label smoothing s for the real label and the R1 penalty on real data):

    L_D = BCE(D(y_real), s) + BCE(D(y_fake), 0) + (γ/2)·E‖∇_y D(y_real)‖²
    L_G = BCE(D(y_fake), 1) + λ_cyc·E|Δp/dt|            (λ_cyc = ``cyclic_weight``, 0 by default)

``speed_init`` (on by default) calibrates a vector-field motion model to the data before the first update: on the
first training batch of real states x_k it scales the output layers of the field's networks by

    c = mean_k ‖x_{k+1} − x_k‖ / dt  /  mean_k ‖f(x_k)‖

so the untrained field moves at the data's mean speed (an untrained tanh MLP field is 5–50× slower than the
spring's orbits, and the generator then spends most of its budget growing its own time scale). Both a Hamiltonian
field (f = J∇H with H a sum of output heads) and an MLP field are linear in their output layers, so this is exact;
it is checked after scaling. The recurrent twin has no time step and is left as it is. A resumed run is not
recalibrated (the ``speed_calibrated`` buffer is in the checkpoint).

For **clips** the latent coordinates are the generator's own (the decoder defines what they mean), so a speed in
the data's units has no latent counterpart; a time scale does. :meth:`calibrate_frequency` scales the same output
layers so that the field's mean turning rate at the latent states the generator visits,

    κ_θ(z) = ‖f ∧ J_f f‖ / ‖f‖²      (f = f(z); the rate at which the latent velocity turns, rad per unit time),

equals the real clips' motion frequency ω̂ (:func:`hnn.evaluation.motion_frequency`: the same turning rate,
from finite differences, of the states read off the first training batch). κ is scale- and centre-free, and its
time average over a closed convex orbit is 2π/P in any linear coordinates, so it compares latent and real motion
without a common unit; f → c·f gives κ → c·κ exactly, which is checked after scaling. **The real side uses the
analytic probe** (:func:`hnn.evaluation.read_states`, which knows the renderer's geometry: the data module's
``spec``) once, on the first batch, for this one number; the generator never sees read-off states otherwise.

With ``ema_decay`` β > 0 the module also keeps an exponential moving average of the generator's weights
(noise map, motion model, decoder; Karras et al. 2018), updated after each generator step as

    θ̄ ← β_k·θ̄ + (1 − β_k)·θ,    β_k = min(β, (1 + k)/(10 + k))   (k: generator steps so far)

and generates with θ̄ whenever the module is in eval mode (validation, evaluation, a loaded checkpoint); training
always uses and updates θ. The discriminator is not averaged.

Manual optimization, each training step: ``discriminator_steps`` discriminator updates on detached fakes, then one
generator update; each player's optimizer holds only its own parameters, and the generator step's gradients that
reach the discriminator are cleared before the next discriminator update. Lightning counts every optimizer step in
``trainer.global_step`` (and so in ``max_steps`` and the checkpoints' step): a batch is 1 + ``discriminator_steps``
steps; the loggers' step axis counts batches. Logged: ``d_loss``, ``g_loss``, ``r1``,
``d_real``, ``d_fake`` (mean logits); the physics metrics during validation come from the
:class:`~hnn.training.callbacks.GANMonitor` callback.
"""
from __future__ import annotations

import copy
import functools
import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import hnn.integrators as _integrators
from hnn.models.base import LoadableModule
from hnn.models.dynamics import OptimizerFactory, describe_callable
from hnn.nn.mlp import MLP
from hnn.validate import check_bool, check_choice, check_int, check_nonnegative, check_real

__all__ = ["HamiltonianGAN", "DECODERS"]

DECODERS = ("identity", "mlp")
_ADAM = functools.partial(torch.optim.Adam, lr=2e-4, betas=(0.5, 0.999))


class HamiltonianGAN(LoadableModule):
    """Generate trajectories by a latent motion model; judge whole sequences (module docstring).

    Args:
        field: the latent motion model: ``vector_field(x)`` rolled out by ``hnn.integrate``, or ``rollout(x0, steps)``
            (:class:`~hnn.nn.GRUMotion`). Its ``dim`` = 2n is the latent state size.
        discriminator: ``[B, T, obs_dim] -> [B]`` logits; ``obs_dim`` must match the observation (see ``angles``).
        steps: sequence length T generated in training (the data's).
        dt: the latent time step between samples (the data's sampling interval).
        noise_dim, map_width, map_depth: the noise map's input size and MLP.
        angles: one flag per q, True for an angle (observed as cos, sin); default none.
        decoder: ``"identity"``, ``"mlp"`` (``decoder_width``, depth 2), or a per-frame network (videos, above).
        integrator, integrator_dt: the ``hnn.integrate`` method and substep (None: one step per sample).
        generator_optimizer, discriminator_optimizer: ``params -> Optimizer`` (default Adam 2e-4, β = (0.5, 0.999)).
        r1_gamma: γ of the R1 penalty (0: off).
        label_smoothing: the real label s ∈ (0, 1] (1: none).
        cyclic_weight: λ_cyc of the cyclic-coordinate loss (0: off).
        discriminator_steps: discriminator updates per generator update.
        ema_decay: β of the generator's weight average used in eval mode (0: off, eval uses the trained weights).
        speed_init: calibrate a vector-field motion model's speed to the first training batch (module docstring).
        frame_discriminator: a per-frame discriminator ``[B, T, ...] -> [B, T]`` beside ``discriminator``.
            With a frame decoder, ``speed_init`` matches the latent turning rate to the real clips' frequency
            (:meth:`calibrate_frequency`) and needs a data module with a ``spec`` (:class:`~hnn.data.VideoDataModule`).
    """

    def __init__(
        self,
        field: nn.Module,
        discriminator: nn.Module,
        steps: int = 32,
        dt: float = 0.1,
        noise_dim: int = 16,
        map_width: int = 128,
        map_depth: int = 2,
        angles: list[bool] | None = None,
        decoder: Literal["identity", "mlp"] | nn.Module = "identity",
        decoder_width: int = 64,
        integrator: str = "leapfrog",
        integrator_dt: float | None = None,
        generator_optimizer: OptimizerFactory = _ADAM,
        discriminator_optimizer: OptimizerFactory = _ADAM,
        r1_gamma: float = 10.0,
        label_smoothing: float = 0.9,
        cyclic_weight: float = 0.0,
        discriminator_steps: int = 1,
        ema_decay: float = 0.0,
        speed_init: bool = True,
        frame_discriminator: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(field, nn.Module) or not isinstance(getattr(field, "dim", None), int) or not (
                callable(getattr(field, "vector_field", None)) or callable(getattr(field, "rollout", None))):
            raise TypeError("field must be an nn.Module with an int dim and vector_field(x) (hnn.nn fields) or "
                            f"rollout(x0, steps) (hnn.nn.GRUMotion), got {type(field).__name__}")
        if field.dim % 2:
            raise ValueError(f"the latent state [q, p] has an even size; field.dim is {field.dim}")
        if not isinstance(discriminator, nn.Module):
            raise TypeError(f"discriminator must be an nn.Module, got {type(discriminator).__name__}")
        for name, factory in (("generator_optimizer", generator_optimizer),
                              ("discriminator_optimizer", discriminator_optimizer)):
            if not callable(factory):
                raise TypeError(f"{name} must be a callable params -> Optimizer, got {type(factory).__name__}")
        check_int("steps", steps, minimum=1)
        if check_real("dt", dt) == 0.0:
            raise ValueError("dt must be non-zero (negative runs the latent dynamics backwards)")
        check_int("noise_dim", noise_dim, minimum=1)
        check_int("map_width", map_width, minimum=1)
        check_int("map_depth", map_depth, minimum=1)
        frames = isinstance(decoder, nn.Module)
        if not frames:
            check_choice("decoder", decoder, DECODERS)
        if frame_discriminator is not None and not isinstance(frame_discriminator, nn.Module):
            raise TypeError(f"frame_discriminator must be an nn.Module or None, got {type(frame_discriminator).__name__}")
        check_int("decoder_width", decoder_width, minimum=1)
        check_choice("integrator", integrator, _integrators.available())
        check_nonnegative("r1_gamma", r1_gamma)
        if not 0.0 < check_real("label_smoothing", label_smoothing) <= 1.0:
            raise ValueError(f"label_smoothing is the real label and must lie in (0, 1], got {label_smoothing!r}")
        check_nonnegative("cyclic_weight", cyclic_weight)
        check_int("discriminator_steps", discriminator_steps, minimum=1)
        check_bool("speed_init", speed_init)
        if not 0.0 <= check_real("ema_decay", ema_decay) < 1.0:
            raise ValueError(f"ema_decay is the weight-average decay β and must lie in [0, 1), got {ema_decay!r}")
        n = field.dim // 2
        angles = [False] * n if angles is None else [bool(a) for a in angles]
        if len(angles) != n:
            raise ValueError(f"angles needs one flag per coordinate q: the latent state has n = {n}, got {len(angles)}")
        self.obs_dim = 2 * n + sum(angles)
        if frames:
            latent_dim = getattr(decoder, "latent_dim", None)
            if latent_dim is not None and latent_dim != 2 * n:
                raise ValueError(f"the frame decoder takes latent_dim={latent_dim}, but the latent state has {2 * n}")
            if any(angles):
                raise ValueError("angles describe the fixed (cos, sin) observation of states; a frame decoder "
                                 "learns its own observation: leave angles unset")
            for name, module in (("discriminator", discriminator), ("frame_discriminator", frame_discriminator)):
                size = getattr(module, "image_size", None)
                if module is not None and size is not None and size != getattr(decoder, "image_size", size):
                    raise ValueError(f"the {name} takes {size}-pixel frames, the decoder makes "
                                     f"{decoder.image_size}-pixel frames")
        obs_dim = None if frames else getattr(discriminator, "obs_dim", None)
        if obs_dim is not None and obs_dim != self.obs_dim:
            raise ValueError(f"the discriminator takes obs_dim={obs_dim} features per step, but the observation has "
                             f"{self.obs_dim} (n = {n}, {sum(angles)} angle(s) as cos and sin)")
        self.automatic_optimization = False
        self.field, self.discriminator = field, discriminator
        self.noise_map = MLP(noise_dim, 2 * n, width=map_width, depth=map_depth)
        self.frame_discriminator = frame_discriminator
        self._frames = frames
        if frames:
            self.decoder: nn.Module | None = decoder
        else:
            self.decoder = MLP(2 * n, self.obs_dim, width=decoder_width, depth=2) if decoder == "mlp" else None
        self.generator_ema: nn.ModuleDict | None = None
        if ema_decay > 0:
            parts = {"noise_map": self.noise_map, "field": field}
            if self.decoder is not None:
                parts["decoder"] = self.decoder
            self.generator_ema = nn.ModuleDict({k: copy.deepcopy(v) for k, v in parts.items()}).requires_grad_(False)
            self.register_buffer("ema_updates", torch.zeros((), dtype=torch.long))
        self.generator_optimizer, self.discriminator_optimizer = generator_optimizer, discriminator_optimizer
        self.register_buffer("_angles", torch.tensor(angles, dtype=torch.bool), persistent=False)
        self.register_buffer("speed_calibrated", torch.tensor(False))
        self.save_hyperparameters(ignore=["field", "discriminator", "generator_optimizer", "discriminator_optimizer",
                                          "decoder", "frame_discriminator"])
        self.hparams["angles"] = angles
        if not frames:
            self.hparams["decoder"] = decoder
        for name, module in (("field", field), ("discriminator", discriminator)) + (
                (("decoder", decoder),) if frames else ()) + (
                (("frame_discriminator", frame_discriminator),) if frame_discriminator is not None else ()):
            config = getattr(module, "config", None)
            self.hparams[name] = config() if callable(config) else None
        self.hparams["generator_optimizer"] = describe_callable(generator_optimizer)
        self.hparams["discriminator_optimizer"] = describe_callable(discriminator_optimizer)

    # ------------------------------------------------------------------ observation
    @property
    def n(self) -> int:
        return int(self.field.dim) // 2

    @property
    def frames(self) -> bool:
        """The decoder is an injected per-frame network: the data serves clips, not states."""
        return self._frames

    @property
    def motion_model(self) -> nn.Module:
        """The motion model that generates now: the weight average in eval mode when one is kept, else ``field``."""
        return self._generator_parts()[1]

    @property
    def recurrent(self) -> bool:
        """The motion model is a recurrent map (``rollout``) with no time step, not a vector field."""
        return not callable(getattr(self.field, "vector_field", None))

    def observe(self, x: Tensor) -> Tensor:
        """[q, p] ``[..., 2n]`` -> the observation ``[..., obs_dim]``: each angle q as (cos q, sin q), then the other
        q, then p."""
        if self.frames:
            raise TypeError("a GAN with a frame decoder has no fixed observation of states: its data serves clips, "
                            "and hnn.evaluation.read_states reads states off frames")
        if x.shape[-1] != 2 * self.n:
            raise ValueError(f"states have {2 * self.n} entries [q, p]; got shape {tuple(x.shape)}")
        q, p = x[..., :self.n], x[..., self.n:]
        angles = self._angles.to(x.device)
        if not bool(angles.any()):
            return x
        theta = q[..., angles]
        return torch.cat([torch.cos(theta), torch.sin(theta), q[..., ~angles], p], dim=-1)

    def read_state(self, y: Tensor) -> Tensor:
        """The inverse of :meth:`observe`: [q, p] ``[..., 2n]`` from an observation (q = atan2(sin, cos) ∈ (−π, π]),
        for real and generated sequences alike."""
        if self.frames:
            raise TypeError("a GAN with a frame decoder has no analytic read-off in the model: use "
                            "hnn.evaluation.read_states(frames, data.spec, data.dt)")
        if y.shape[-1] != self.obs_dim:
            raise ValueError(f"observations have {self.obs_dim} entries; got shape {tuple(y.shape)}")
        angles = self._angles.to(y.device)
        k = int(angles.sum())
        if k == 0:
            return y
        theta = torch.atan2(y[..., k:2 * k], y[..., :k])
        others = y[..., 2 * k:2 * k + self.n - k]
        q = torch.empty(*y.shape[:-1], self.n, dtype=y.dtype, device=y.device)
        q[..., angles], q[..., ~angles] = theta, others
        return torch.cat([q, y[..., 2 * k + self.n - k:]], dim=-1)

    # ------------------------------------------------------------------ generator
    def noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """z ~ N(0, I) ``[n, noise_dim]`` on the model's device and dtype."""
        check_int("n", n, minimum=1)
        weight = self.noise_map.layers[0].weight
        device = generator.device if generator is not None else weight.device  # draw where the generator lives
        return torch.randn(n, self.hparams.noise_dim, generator=generator, dtype=weight.dtype,
                           device=device).to(weight.device)

    def _generator_parts(self) -> tuple[nn.Module, nn.Module, nn.Module | None]:
        """(noise map, motion model, decoder) that generate now: the weight average in eval mode, if kept."""
        ema = self.generator_ema
        if ema is None or self.training:
            return self.noise_map, self.field, self.decoder
        return ema["noise_map"], ema["field"], ema["decoder"] if "decoder" in ema else None

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        # a checkpoint written before the speed calibration existed holds a trained (or training) field: mark it
        # calibrated so that resuming it never rescales the field
        state_dict.setdefault(prefix + "speed_calibrated", torch.tensor(True))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def calibrate_speed(self, x: Tensor) -> float:
        """Scale the field's output layers so that its mean speed at the real states ``x [B, T, 2n]`` equals their
        mean finite-difference speed (module docstring); returns the factor c. Raises TypeError for a recurrent
        motion model or a field with no MLP output layer, ValueError when the field is not linear in them."""
        heads = self._output_heads()
        if x.ndim != 3 or x.shape[1] < 2 or x.shape[-1] != 2 * self.n:
            raise ValueError(f"calibrate_speed needs real states [B, T >= 2, {2 * self.n}], got {tuple(x.shape)}")
        data_speed = ((x[:, 1:] - x[:, :-1]) / abs(self.hparams.dt)).norm(dim=-1).mean()
        states = x[:, :-1].reshape(-1, x.shape[-1])

        def speed() -> Tensor:
            with torch.enable_grad():  # a Hamiltonian field differentiates its energy
                return self.field.vector_field(states).detach().norm(dim=-1).mean()

        before = speed()
        if not (bool(torch.isfinite(before)) and float(before) > 0 and float(data_speed) > 0):
            raise ValueError(f"cannot calibrate the speed: field speed {float(before)}, data speed "
                             f"{float(data_speed)} (both must be finite and positive)")
        factor = float(data_speed / before)
        self._scale_heads(heads, factor)
        after = float(speed())
        if abs(after / float(data_speed) - 1.0) > 1e-3:
            self._scale_heads(heads, 1.0 / factor)  # undo: this field is not linear in its output layers
            raise ValueError(f"{type(self.field).__name__} is not linear in its MLP output layers (speed "
                             f"{after:.4g} after scaling, {float(data_speed):.4g} wanted); pass speed_init=False")
        self._calibrated()
        return factor

    def _output_heads(self) -> list[nn.Linear]:
        if self.recurrent:
            raise TypeError(f"{type(self.field).__name__} is a recurrent map with no time step: no speed to calibrate")
        heads = [m.layers[-1] for m in self.field.modules() if isinstance(m, MLP)]
        if not heads:
            raise TypeError(f"{type(self.field).__name__} has no MLP output layer to scale")
        return heads

    @staticmethod
    def _scale_heads(heads: list[nn.Linear], factor: float) -> None:
        for layer in heads:
            layer.weight.mul_(factor)
            if layer.bias is not None:
                layer.bias.mul_(factor)

    def _calibrated(self) -> None:
        if self.generator_ema is not None:
            self.generator_ema["field"].load_state_dict(self.field.state_dict())
        self.speed_calibrated.fill_(True)

    def field_turning_rate(self, states: Tensor) -> Tensor:
        """κ_θ(z) = ‖f ∧ J_f f‖ / ‖f‖² ``[N]`` (float64) of the trained field at latent states ``[N, 2n]`` (module
        docstring), J_f f by a central difference along f in float64 (step h = 1e-5·(1 + ‖z‖)); NaN near fixed
        points, where ‖f‖ < 10⁻³ × the mean ‖f‖ over ``states`` (there κ is the ratio of two rounding errors)."""
        self._output_heads()
        if not isinstance(states, Tensor) or states.ndim != 2 or states.shape[-1] != 2 * self.n:
            raise ValueError(f"field_turning_rate takes latent states [N, {2 * self.n}], got "
                             f"{tuple(states.shape) if isinstance(states, Tensor) else type(states).__name__}")
        field = copy.deepcopy(self.field).to(torch.float64)
        z = states.detach().to(torch.float64)

        def f(x: Tensor) -> Tensor:
            with torch.enable_grad():  # a Hamiltonian field differentiates its energy
                return field.vector_field(x).detach()

        v = f(z)
        norm = v.norm(dim=-1, keepdim=True)
        direction = v / torch.where(norm > 0, norm, torch.ones_like(norm))
        h = 1e-5 * (1.0 + z.norm(dim=-1, keepdim=True))
        a = (f(z + h * direction) - f(z - h * direction)) / (2.0 * h) * norm  # J_f f
        from hnn.evaluation.video import velocity_turning_rate

        return velocity_turning_rate(v, a, valid=norm.squeeze(-1) >= 1e-3 * norm.mean())

    @torch.no_grad()
    def calibrate_frequency(self, frequency: float, n: int = 256, generator: torch.Generator | None = None,
                            passes: int = 2) -> float:
        """Scale the field's output layers so that its mean turning rate at the latent states the generator visits
        equals ``frequency`` ω̂ (rad per unit time; module docstring); returns the total factor.

        Each of ``passes`` rounds draws ``n`` noise samples (from ``generator``), rolls the current generator out
        for ``steps`` steps and scales by c = ω̂ / mean κ_θ over those states; a later round measures along the
        orbits the scaled field traces within a clip (the rounds need not converge: an untrained field's orbits can
        run off to where it is nearly straight, so their number is fixed). After the last round the mean κ_θ at its
        states is checked to equal ω̂ (relative 1e-3). TypeError for a recurrent motion model, ValueError for a non-positive frequency or
        a field that does not move."""
        heads = self._output_heads()
        target = check_real("frequency", frequency)
        if not (math.isfinite(target) and target > 0):
            raise ValueError(f"frequency must be finite and positive, got {frequency!r}")
        check_int("n", n, minimum=1)
        check_int("passes", passes, minimum=1)
        total = 1.0

        def mean_rate(states: Tensor) -> float:
            kappa = self.field_turning_rate(states)
            kappa = kappa[~torch.isnan(kappa)]
            return float(kappa.mean()) if kappa.numel() else float("nan")

        for _ in range(passes):
            was_training = self.training
            self.train()  # the trained parts, not the weight average
            try:
                states = self.motion(self.noise_map(self.noise(n, generator))).reshape(-1, 2 * self.n)
            finally:
                self.train(was_training)
            before = mean_rate(states)
            if not (math.isfinite(before) and before > 0):
                raise ValueError(f"cannot calibrate the frequency: the field's mean turning rate is {before} at the "
                                 "generated latent states (it must be finite and positive)")
            factor = target / before
            self._scale_heads(heads, factor)
            total *= factor
        after = mean_rate(states)
        if abs(after / target - 1.0) > 1e-3:
            self._scale_heads(heads, 1.0 / total)  # undo: this field is not linear in its output layers
            raise ValueError(f"{type(self.field).__name__} is not linear in its MLP output layers (turning rate "
                             f"{after:.4g} after scaling, {target:.4g} wanted); pass speed_init=False")
        self._calibrated()
        return total

    def _data_spec(self) -> Any:
        trainer = self._trainer
        spec = getattr(getattr(trainer, "datamodule", None), "spec", None) if trainer is not None else None
        if spec is None:
            raise TypeError("speed_init with a frame decoder reads the real clips' motion with the analytic probe: "
                            "it needs a data module with a RenderSpec `spec` (hnn.data.VideoDataModule); "
                            "pass speed_init=False otherwise")
        return spec

    def _real_clip_frequency(self, clips: Tensor) -> float:
        """ω̂ of real clips ``[B, T, C, S, S]``: :func:`hnn.evaluation.motion_frequency` of the states the analytic
        probe reads off them with the trainer's data module's ``spec``."""
        from hnn.evaluation.video import motion_frequency, read_states

        dt = abs(float(self.hparams.dt))
        return motion_frequency(read_states(clips.detach(), self._data_spec(), dt), dt)

    @torch.no_grad()
    def update_ema(self) -> None:
        """θ̄ ← β_k·θ̄ + (1 − β_k)·θ for the generator's parameters; buffers are copied (module docstring)."""
        ema = self.generator_ema
        if ema is None:
            return
        k = int(self.ema_updates)
        beta = min(float(self.hparams.ema_decay), (1.0 + k) / (10.0 + k))
        for name, module in ema.items():
            live = getattr(self, name)
            averaged, current = list(module.parameters()), list(live.parameters())
            torch._foreach_lerp_(averaged, current, 1.0 - beta)
            for target, source in zip(module.buffers(), live.buffers()):
                target.copy_(source)
        self.ema_updates += 1

    def motion(self, x0: Tensor, steps: int | None = None, dt: float | None = None) -> Tensor:
        """Latent states ``[B, steps, 2n]`` from ``x0 [B, 2n]``: ``hnn.integrate`` at times k·dt (dt < 0 runs
        backwards), or the recurrent rollout (which has no dt: only the default is accepted). The motion model is
        the weight average in eval mode when one is kept."""
        steps = self.hparams.steps if steps is None else check_int("steps", steps, minimum=1)
        field = self._generator_parts()[1]
        if self.recurrent:
            if dt is not None and dt != self.hparams.dt:
                raise ValueError(f"{type(self.field).__name__} is a recurrent map with no time step: dt cannot be "
                                 f"changed (got {dt!r})")
            return field.rollout(x0, steps).transpose(0, 1)
        dt = self.hparams.dt if dt is None else check_real("dt", dt)
        t = torch.arange(steps, dtype=x0.dtype, device=x0.device) * dt
        states = _integrators.integrate(field, x0, t, method=self.hparams.integrator,
                                        dt=self.hparams.integrator_dt)
        return states.transpose(0, 1)

    def decode(self, states: Tensor) -> Tensor:
        decoder = self._generator_parts()[2]
        return self.observe(states) if decoder is None else decoder(states)

    def generate(self, n: int | None = None, z: Tensor | None = None, steps: int | None = None,
                 dt: float | None = None, generator: torch.Generator | None = None,
                 return_latent: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Observed sequences ``[B, steps, obs_dim]`` (and the latent states ``[B, steps, 2n]`` with
        ``return_latent``) from ``z`` or from ``n`` fresh noise draws."""
        if (n is None) == (z is None):
            raise ValueError("pass exactly one of n (fresh noise) and z (given noise)")
        z = self.noise(n, generator) if z is None else z
        states = self.motion(self._generator_parts()[0](z), steps=steps, dt=dt)
        y = self.decode(states)
        return (y, states) if return_latent else y

    def forward(self, z: Tensor) -> Tensor:
        return self.generate(z=z)

    # ------------------------------------------------------------------ losses
    def _discriminators(self) -> list[nn.Module]:
        return [self.discriminator] + ([self.frame_discriminator] if self.frame_discriminator is not None else [])

    def discriminator_loss(self, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(L_D, R1 term, mean D(real), mean D(fake)) for observed ``real`` and detached ``fake``.

        L_D = Σ_D [BCE(D(real), s) + BCE(D(fake), 0) + γ/2 · R1_D] over the clip discriminator and, if present,
        the frame discriminator. R1_D = E‖∇_u D(u)‖² over real inputs u of that discriminator (Mescheder et al. 2018):
        u is a whole sequence for the clip discriminator and one frame for the frame discriminator, so both are
        penalised per logit, as their BCE terms average per logit. The logged means are the clip D's."""
        gamma = self.hparams.r1_gamma
        real = real.detach().requires_grad_(gamma > 0)
        loss = torch.zeros((), device=real.device, dtype=real.dtype)
        r1 = torch.zeros((), device=real.device, dtype=real.dtype)
        means = []
        for discriminator in self._discriminators():
            d_real, d_fake = discriminator(real), discriminator(fake.detach())
            loss = loss + F.binary_cross_entropy_with_logits(
                d_real, torch.full_like(d_real, self.hparams.label_smoothing)) \
                + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
            if gamma > 0:
                # E over the discriminator's logits of ‖∇ logit‖² w.r.t. the input it judges: a clip
                # discriminator's logit sees a whole clip, a frame discriminator's one frame (its logits [B, T]
                # each depend on their own frame only, so the summed squares over a clip are T such terms)
                (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
                term = grad.pow(2).sum() / d_real.numel()
                r1 = r1 + term
                loss = loss + 0.5 * gamma * term
            means.append((d_real.detach().mean(), d_fake.detach().mean()))
        return loss, r1.detach(), means[0][0], means[0][1]

    def generator_loss(self, fake: Tensor, latent: Tensor) -> Tensor:
        """L_G for observed ``fake`` generated from the latent states ``latent``."""
        loss = torch.zeros((), device=fake.device, dtype=fake.dtype)
        for discriminator in self._discriminators():
            logits = discriminator(fake)
            loss = loss + F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        if self.hparams.cyclic_weight > 0 and latent.shape[1] > 1:
            dp = (latent[:, 1:, self.n:] - latent[:, :-1, self.n:]) / abs(self.hparams.dt)
            loss = loss + self.hparams.cyclic_weight * dp.abs().mean()
        return loss

    def generator_parameters(self) -> list[nn.Parameter]:
        """The trained generator's parameters (noise map, motion model, decoder): not the discriminator's, not the
        weight average's."""
        return [p for name, p in self.named_parameters()
                if not name.startswith(("discriminator.", "frame_discriminator.", "generator_ema."))]

    # ------------------------------------------------------------------ Lightning
    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        (x,) = batch
        if self.hparams.speed_init and not self.recurrent and not bool(self.speed_calibrated):
            if self.frames:
                self.calibrate_frequency(self._real_clip_frequency(x), n=x.shape[0])
            else:
                self.calibrate_speed(x)
        real = x if self.frames else self.observe(x)
        opt_g, opt_d = self.optimizers()
        for _ in range(self.hparams.discriminator_steps):
            with torch.no_grad():  # the discriminator's fakes need no graph through the generator's rollout
                fake = self.generate(real.shape[0], steps=real.shape[1])
            d_loss, r1, d_real, d_fake = self.discriminator_loss(real, fake)
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(d_loss)
            opt_d.step()
        fake, latent = self.generate(real.shape[0], steps=real.shape[1], return_latent=True)
        g_loss = self.generator_loss(fake, latent)
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(g_loss)
        opt_g.step()
        self.update_ema()
        opt_d.zero_grad(set_to_none=True)  # the generator step's gradients on D are not D's
        self.log_dict({"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "r1": r1, "d_real": d_real,
                       "d_fake": d_fake}, prog_bar=False)
        self.log("train_loss", d_loss.detach() + g_loss.detach(), prog_bar=True)
        return g_loss.detach()

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        (x,) = batch
        real = x if self.frames else self.observe(x)
        with torch.no_grad():
            fake = self.generate(real.shape[0], steps=real.shape[1])
            d_real, d_fake = self.discriminator(real), self.discriminator(fake)
            loss = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) \
                + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        self.log("val_d_loss", loss, prog_bar=True)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.generator_optimizer(self.generator_parameters()),
                self.discriminator_optimizer([p for d in self._discriminators() for p in d.parameters()])]
