"""hnn.nn: plain ``torch.nn`` building blocks (no Lightning here).

- :class:`MLP` -- the one multilayer perceptron (width, depth, activation; tanh and orthogonal init by default).
- :class:`EnergyNet` -- a scalar energy E_θ(x) (bias-free head); :class:`SeparableEnergyNet` -- T_θ(p) + V_θ(q);
  :class:`RayleighDissipation` -- D(q, p) = ½ pᵀ L Lᵀ p.
- Learned vector fields (``vector_field(x, u=None)``, rolled out by ``hnn.integrate``): :class:`HamiltonianField`
  (dx/dt = J∇H_θ), :class:`DissipativeField` (J∇H_θ − ∇D_θ), :class:`BaselineField` (an MLP); :func:`build_field`
  rebuilds one from its ``config()`` record.
- Controlled fields (``vector_field(x, u)``, u required): :class:`PortHamiltonianField`
  (dx/dt = (J − R)∇H + [0; B(q)u], H = ½pᵀM⁻¹(q)p + V(q)) and :class:`ControlledBaselineField` (an MLP of x and u).
- GAN parts: :class:`SequenceDiscriminator` (a dilated temporal conv or a GRU over ``[B, T, obs_dim]``) and
  :class:`GRUMotion` (a recurrent motion model, the non-physical twin of a latent vector field).
- Video GAN parts: :class:`FrameDecoder` (DCGAN-style latent → frame), :class:`BroadcastDecoder` (spatial
  broadcast latent → frame), :class:`KeypointDecoder` (latent → Gaussian keypoint maps → conv head → frame),
  :class:`FrameEncoder`,
  :class:`FrameDiscriminator` (a logit per frame) and :class:`ClipDiscriminator` (frame features → temporal conv).
"""
from hnn.nn.energy import EnergyNet, RayleighDissipation, SeparableEnergyNet
from hnn.nn.fields import BaselineField, DissipativeField, HamiltonianField, VectorField, build_field
from hnn.nn.controlled import ControlledBaselineField, PortHamiltonianField
from hnn.nn.gan import GRUMotion, SequenceDiscriminator
from hnn.nn.mlp import ACTIVATIONS, INITS, MLP, make_activation
from hnn.nn.video import (BroadcastDecoder, ClipDiscriminator, FrameDecoder, FrameDiscriminator, FrameEncoder,
                          KeypointDecoder)

__all__ = [
    "MLP", "EnergyNet", "SeparableEnergyNet", "RayleighDissipation", "ACTIVATIONS", "INITS", "make_activation",
    "VectorField", "HamiltonianField", "DissipativeField", "BaselineField", "build_field",
    "PortHamiltonianField", "ControlledBaselineField", "SequenceDiscriminator", "GRUMotion",
    "FrameDecoder", "BroadcastDecoder", "KeypointDecoder", "FrameEncoder", "FrameDiscriminator", "ClipDiscriminator",
]
