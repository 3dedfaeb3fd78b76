"""The scaling-law tools: compute in the paper's unit, the frontier, and fits that recover known exponents from
noisy synthetic data and refuse data that cannot determine them."""
import json
import numpy as np
import pytest
import torch

from scaling_mlps.compute import PAPER_FLOPS_PER_MAC, forward_flops, training_flops
from scaling_mlps.models import get_model
from scaling_mlps.laws import (PFLOP, UnderdeterminedFit, best_within_budget, bootstrap_ci, compute_law, envelope,
                               fit_compute_law, fit_power_law, pareto_frontier, scaling_fits)


def test_compute_in_the_papers_unit_counts_one_flop_per_multiply_add():
    with torch.device("meta"):
        model = get_model("B_6-Wi_256", 32, 200)
    macs = sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear))
    assert training_flops(model, 1000, 4, flops_per_mac=PAPER_FLOPS_PER_MAC) == 3 * macs * 1000 * 4
    assert forward_flops(model, flops_per_mac=1) == macs


def test_pareto_frontier_and_budget():
    c = [4.0, 1.0, 2.0, 2.0, 8.0, 3.0]
    e = [0.5, 0.9, 0.6, 0.7, 0.55, 0.65]
    assert pareto_frontier(c, e).tolist() == [1, 2, 0]
    assert best_within_budget(c, e, 3.0) == 2 and best_within_budget(c, e, 0.1) is None
    assert envelope([2, 1, 2], [0.3, 0.4, 0.2]).tolist() == [1, 2]
    with pytest.raises(ValueError, match="finite"):
        pareto_frontier([1.0, np.nan], [0.1, 0.2])


@pytest.mark.parametrize("exponent", [-1.0, -0.35, 0.65])
def test_power_law_recovers_known_exponent(exponent):
    rng = np.random.default_rng(1)
    x = np.logspace(5, 9, 10)
    fit = fit_power_law(x, 2.0 * x ** exponent * np.exp(0.05 * rng.standard_normal(len(x))))
    assert fit.ci[0] < exponent < fit.ci[1]
    assert abs(fit.exponent - exponent) < 0.05


def test_power_law_interval_has_its_coverage():
    x = np.logspace(0, 3, 6)
    rng = np.random.default_rng(2)
    hits = [(f := fit_power_law(x, x ** 0.5 * np.exp(0.1 * rng.standard_normal(6)))).ci[0] < 0.5 < f.ci[1]
            for _ in range(500)]
    assert 0.92 < np.mean(hits) < 0.98


def test_power_law_underdetermined():
    with pytest.raises(UnderdeterminedFit, match="2 distinct"):
        fit_power_law([1, 2, 2, 1], [3, 4, 4.1, 3.1])
    with pytest.raises(ValueError, match="positive"):
        fit_power_law([1, 2, 3], [1, -1, 2])


@pytest.mark.parametrize("alpha,e_inf", [(0.12, 0.3), (0.35, 0.2), (0.8, 0.05)])
def test_compute_law_recovers_known_alpha(alpha, e_inf):
    C = np.logspace(14, 19, 14)
    rng = np.random.default_rng(3)
    err = compute_law(C / PFLOP, 0.3, 0.2, alpha, e_inf) * (1 + 0.005 * rng.standard_normal(len(C)))
    fit = fit_compute_law(C, err)
    assert fit.alpha_ci[0] < alpha < fit.alpha_ci[1]
    assert abs(fit.alpha - alpha) < 0.1 * alpha + 0.02
    assert abs(fit.e_inf - e_inf) < 4 * fit.stderr["e_inf"] + 0.005  # a slow decay (alpha 0.12) pins E_inf loosely
    np.testing.assert_allclose(fit(C), compute_law(C / PFLOP, 0.3, 0.2, alpha, e_inf), rtol=0.02)


def test_compute_law_underdetermined():
    C = np.logspace(15, 18, 4)
    err = compute_law(C / PFLOP, 0.3, 0.0, 0.35, 0.2)
    with pytest.raises(UnderdeterminedFit, match="at least 5"):
        fit_compute_law(C, err)
    assert abs(fit_compute_law(C, err, fixed={"b": 0.0}).alpha - 0.35) < 1e-3  # three free parameters: determined
    with pytest.raises(UnderdeterminedFit, match="ran to its bound"):  # flat: no falling part, E_inf at the lowest error
        fit_compute_law(np.logspace(15, 18, 8), np.full(8, 0.4))
    with pytest.raises(ValueError, match="unknown parameter"):
        fit_compute_law(C, err, fixed={"c": 1.0})


def test_bootstrap_counts_failures():
    x = np.logspace(0, 2, 12)
    y = x ** -0.5
    b = bootstrap_ci(lambda i: fit_power_law(x[i], y[i]).exponent, len(x), n_boot=50)
    assert b.ci == pytest.approx((-0.5, -0.5)) and b.n_failed == 0
    with pytest.raises(UnderdeterminedFit, match="50 of 50"):
        bootstrap_ci(lambda i: fit_power_law(x[i][:1], y[i][:1]).exponent, len(x), n_boot=50)


def _chinchilla_runs(n, epochs=(50,), a=0.7, b=0.7 * 0.35 / 0.65, noise=0.02, seed=0, e0=0.05):
    rng = np.random.default_rng(seed)
    return [dict(params=P, examples=N, epochs=T, compute=3 * P * N * T,
                 error=(e0 + 30 * P ** -a + 10 * (N * T) ** -b) * (1 + noise * rng.standard_normal()))
            for P in np.logspace(5, 8, n) for N in np.logspace(3, 6, n) for T in epochs]


def test_scaling_fits_recover_compute_optimal_split():
    fits = scaling_fits(_chinchilla_runs(14), n_boot=100)
    assert abs(fits["P_star"]["estimate"] - 0.35) < 0.08 and abs(fits["N_star"]["estimate"] - 0.65) < 0.08
    assert fits["P_star"]["ci"][0] < 0.35 < fits["P_star"]["ci"][1]
    assert fits["N_star"]["ci"][0] < 0.65 < fits["N_star"]["ci"][1]
    assert fits["compute_law"]["estimate"] > 0 and fits["compute_law"]["n_boot"] == 100
    json.dumps(fits)


def test_a_floor_on_its_bound_is_underdetermined_not_an_interval():
    "Issue 21: E_inf on its bound 0 is reported as under-determined, naming E_inf, not as an interval for alpha."
    C = np.logspace(15, 19, 12)
    runs = [dict(compute=c, error=e, params=1, examples=1, epochs=1) for c, e in zip(C, compute_law(C / PFLOP, 0.3, 0.2, 0.35, 0.0))]
    fits = scaling_fits(runs, n_boot=0, fits=("compute_law",))
    assert "e_inf" in fits["compute_law"]["underdetermined"] and "ci" not in fits["compute_law"]


def test_bootstrap_resamples_whole_runs():
    "Issue 21: a run's snapshots go in or out of a resample together."
    runs = np.repeat(np.arange(6), 4)
    seen = []
    bootstrap_ci(lambda i: seen.append(i) or 0.0, len(runs), n_boot=30, groups=runs)
    for idx in seen:
        counts = np.bincount(idx, minlength=len(runs)).reshape(6, 4)
        assert (counts == counts[:, :1]).all()  # every snapshot of a run drawn as often as the run


def test_isoflop_fits_recover_the_split_and_flag_edges():
    from scaling_mlps.laws import isoflop_fits
    rng, runs = np.random.default_rng(0), []
    for C in np.logspace(15, 16.5, 4):
        for P in 10 ** (0.35 * np.log10(C) + 0.5) * np.logspace(-0.9, 0.9, 5):
            N = C / (3 * P * 50)
            runs.append(dict(budget=C, params=P, flops=P, epochs=50, run=f"{C}/{P}",
                             error=(0.05 + 30 * P ** -0.7 + 10 * (N * 50) ** -0.377) * (1 + 0.003 * rng.standard_normal())))
    fits = isoflop_fits(runs, n_boot=50)
    assert abs(fits["P_star"]["estimate"] - 0.35) < 0.05 and all(p["inside"] for p in fits["profiles"])
    assert abs(fits["P_star"]["estimate"] + fits["N_star"]["estimate"] - 1) < 1e-9
    assert abs(fits["nulls"]["ladder_drift"] - 0.35) < 1e-6
    wide = [dict(r, error=r["error"] if r["budget"] < 1e16 else 0.5 - 0.01 * np.log(r["params"])) for r in runs]
    edged = isoflop_fits(wide, n_boot=0)
    assert sum(not p["inside"] for p in edged["profiles"]) + (4 - len(edged["profiles"])) >= 2
    assert "underdetermined" in edged["P_star"]


def test_scaling_fits_small_grid_reports_what_it_cannot_fit():
    fits = scaling_fits(_chinchilla_runs(2, epochs=(1, 2)), n_boot=50)
    assert "underdetermined" in fits["compute_law"] or "estimate" in fits["compute_law"]
    assert "underdetermined" in fits["E_vs_P"] and "2 distinct" in fits["E_vs_P"]["underdetermined"]
    json.dumps(fits)
    with pytest.raises(ValueError, match="epochs_ref"):
        scaling_fits(_chinchilla_runs(2), epochs_ref=7)
