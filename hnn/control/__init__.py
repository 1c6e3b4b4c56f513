"""hnn.control: model-predictive control through true or learned dynamics, evaluated in the real envs.

- :class:`CEMPlanner` (:mod:`hnn.control.cem`): a batched cross-entropy-method planner (Gaussian, categorical and
  Bernoulli action distributions) planning through any dynamics function
  ``step(state [N, d], action [N, ...]) -> (next_state, reward, terminated)``, warm-started from the shifted
  previous plan, keeping the previous best sequence as one sample, acting with the best sequence's first action.
- :mod:`hnn.control.envs`: the dynamics functions of the four classic-control envs (:func:`true_dynamics`: the
  exact batched copy; :func:`learned_dynamics`: a learned controlled model), their objectives, the reference planner
  settings and :func:`make_planner`.
- :mod:`hnn.control.evaluate`: episodes in the real gymnasium env, several seeds side by side in one planner batch
  (:func:`run_episodes`, :func:`random_episodes`, :func:`evaluate`) and :func:`mean_std` (mean and sample standard deviation over seeds).

The experiment over all envs (random policy, planner on the true dynamics, on the learned Hamiltonian model and on
the learned baseline) is ``python scripts/control.py`` (:mod:`hnn.experiments.control`).
"""
from hnn.control.cem import CEMPlanner, Dynamics, PlannerRow, Rollout
from hnn.control.envs import (QUICK_SETTINGS, REFERENCE_SETTINGS, PlannerSettings, learned_dynamics, make_planner,
                              true_dynamics)
from hnn.control.evaluate import (Episode, evaluate, mean_std, policy_episodes, random_episode, random_episodes,
                                  run_episode, run_episodes)

__all__ = ["CEMPlanner", "PlannerRow", "Dynamics", "Rollout", "PlannerSettings", "REFERENCE_SETTINGS",
           "QUICK_SETTINGS", "true_dynamics", "learned_dynamics", "make_planner", "Episode", "run_episode",
           "run_episodes", "random_episode", "random_episodes", "policy_episodes", "evaluate", "mean_std"]
