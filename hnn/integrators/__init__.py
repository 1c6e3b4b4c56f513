"""One integrator library for everything in hnn.

``integrate(dynamics, x0, t, method=..., dt=None)`` is the only way anything in hnn rolls out dynamics.
``available()`` lists the methods with their metadata. One file per family, each with a public ``step``:

==================  ==============================================  =====  ==========  ==========
family              methods                                         order  symplectic  separable H
==================  ==============================================  =====  ==========  ==========
explicit_rk         euler, heun, rk3, rk4                           1-4    no          no
splitting           symplectic_euler, leapfrog, forest_ruth,        1,2,   yes         required
                    yoshida6                                        4,6
implicit            implicit_midpoint, backward_euler               2, 1   yes, no     no
multistep           ab4 (started by RK4; uniform t)                 4      no          no
torchdiffeq         torchdiffeq:<solver>, torchdiffeq_adjoint:<s>   -      no          no
==================  ==============================================  =====  ==========  ==========

State layout: x [..., 2n] = [q, p], batch dimensions lead.
"""
from hnn.integrators import explicit_rk, implicit, multistep, splitting, torchdiffeq_adapter
from hnn.integrators._method import MethodInfo
from hnn.integrators.core import available, integrate
from hnn.integrators.fields import Dynamics, hamiltonian_gradient, hamiltonian_vector_field
from hnn.integrators.implicit import ConvergenceError
from hnn.integrators.splitting import leapfrog_step

__all__ = [
    "integrate",
    "available",
    "MethodInfo",
    "Dynamics",
    "ConvergenceError",
    "hamiltonian_gradient",
    "hamiltonian_vector_field",
    "leapfrog_step",
    "explicit_rk",
    "splitting",
    "implicit",
    "multistep",
    "torchdiffeq_adapter",
]
