#!/usr/bin/env python
"""Regenerate the committed reference summaries of the posteriordb posteriors.

    python tests/data/posteriordb/make_summaries.py [SOURCE]

SOURCE (default ``../shared/data/posteriordb`` next to the repository) holds one folder per
posterior from posteriordb (github.com/stan-dev/posteriordb): ``model.stan``, ``data.json``,
``posterior.json``, ``reference_draws.json`` (10 chains x 1000 draws of Stan's NUTS, thinned by 10)
and ``reference_info.json``.  For every posterior this copies ``model.stan`` and ``data.json`` next to
this script (the tests need the data; the model is the specification they translate) and writes
``summaries.json``: per parameter (constrained scale, as in the draws) the mean, the sd (ddof 1), the
bulk/tail/mean ESS and the MCSE of the mean (sd / sqrt(ESS_mean)) of the reference draws, computed
with ``hnn.sampling``'s diagnostics (which equal ArviZ's), plus provenance: the posteriordb commit,
how the reference was made, posteriordb's own ESS and R-hat, and SHA-256 digests of the source files.
The raw draws are not committed; ``tests/test_sampling_posteriordb.py`` reads only this folder.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from hnn.sampling import ess, mcse_mean

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[3] / "shared" / "data" / "posteriordb"
POSTERIORDB_COMMIT = "28f8d3d6e975315f42aa274a8399f21e07a43b30"
POSTERIORS = (
    "arma-arma11",
    "earnings-logearn_interaction",
    "gp_pois_regr-gp_regr",
    "kilpisjarvi_mod-kilpisjarvi",
    "low_dim_gauss_mix-low_dim_gauss_mix",
    "sblrc-blr",
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def summarise(folder: Path) -> dict:
    chains = json.loads((folder / "reference_draws.json").read_text())
    info = json.loads((folder / "reference_info.json").read_text())
    names = list(chains[0])
    draws = np.array([[chain[name] for name in names] for chain in chains], dtype=np.float64)  # (chains, params, draws)
    draws = draws.transpose(0, 2, 1)  # (chains, draws, params)
    diagnostics = info["diagnostics"]
    reported = dict(zip(diagnostics["diagnostic_information"]["names"], range(len(names))))
    parameters = {}
    bulk, tail, mean_ess, mcse = ess(draws, "bulk"), ess(draws, "tail"), ess(draws, "mean"), mcse_mean(draws)
    for i, name in enumerate(names):
        values = draws[:, :, i]
        j = reported[name]
        parameters[name] = {
            "mean": float(values.mean()),
            "sd": float(values.std(ddof=1)),
            "mcse_mean": float(mcse[i]),
            "ess_bulk": float(bulk[i]),
            "ess_tail": float(tail[i]),
            "ess_mean": float(mean_ess[i]),
            "posteriordb_ess_bulk": diagnostics["effective_sample_size_bulk"][j],
            "posteriordb_ess_tail": diagnostics["effective_sample_size_tail"][j],
            "posteriordb_r_hat": diagnostics["r_hat"][j],
        }
    return {
        "parameters": parameters,
        "reference": {
            "chains": draws.shape[0],
            "draws_per_chain": draws.shape[1],
            "method": info["inference"]["method"],
            "method_arguments": info["inference"]["method_arguments"],
            "rstan_version": info["versions"]["rstan_version"],
            "divergent_transitions": diagnostics["divergent_transitions"],
        },
        "sha256": {name: sha256(folder / name) for name in
                   ("model.stan", "data.json", "posterior.json", "reference_draws.json", "reference_info.json")},
    }


def main(argv: list[str]) -> None:
    source = Path(argv[0]) if argv else DEFAULT_SOURCE
    if not source.is_dir():
        sys.exit(f"posteriordb folder not found: {source}")
    out = {
        "source": "posteriordb, https://github.com/stan-dev/posteriordb",
        "posteriordb_commit": POSTERIORDB_COMMIT,
        "licence": "BSD 3-Clause (LICENCE.md in this folder), Copyright (c) 2011-2024, Stan Developers and their Assignees",
        "generated_by": "tests/data/posteriordb/make_summaries.py",
        "statistics": "constrained scale; sd with ddof 1; ESS and MCSE from hnn.sampling (Vehtari et al. 2021, as ArviZ)",
        "posteriors": {},
    }
    for name in POSTERIORS:
        folder = source / name
        (HERE / name).mkdir(exist_ok=True)
        for file in ("model.stan", "data.json"):
            shutil.copyfile(folder / file, HERE / name / file)
        out["posteriors"][name] = summarise(folder)
        print(f"{name}: {', '.join(out['posteriors'][name]['parameters'])}")
    shutil.copyfile(source / "LICENCE.md", HERE / "LICENCE.md")
    (HERE / "summaries.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {HERE / 'summaries.json'}")


if __name__ == "__main__":
    main(sys.argv[1:])
