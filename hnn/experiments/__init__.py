"""hnn.experiments: experiments that train and evaluate (above both rooms), and what the scripts share.

- :mod:`hnn.experiments.table1` -- Greydanus et al. 2019 Table 1: train (``hnn.training``) or load baseline and HNN per
  task and seed, evaluate (``hnn.evaluation.table1``), write the table, figure, results and pretrained exports;
  ``hnn-table1`` / ``python scripts/evaluate.py``.
- :mod:`hnn.experiments.openloop` -- open-loop accuracy of the controlled gym models over seeds (protocol:
  ``hnn.evaluation.openloop``); ``python scripts/openloop.py``.
- :mod:`hnn.experiments.control` -- the CEM planner through the true and the learned dynamics, judged in the real
  envs; ``python scripts/control.py``.
- :mod:`hnn.experiments.policy` -- SAC trained only in the learned Pendulum env against SAC trained in the real one,
  both judged in the real Pendulum-v1; ``python scripts/policy.py`` (the ``rl`` extra).
- :mod:`hnn.experiments.jobs` -- the one process pool (``run_jobs``).
- :mod:`hnn.experiments.timing` -- the one timing harness of the benchmarks (``time_calls``).
"""
