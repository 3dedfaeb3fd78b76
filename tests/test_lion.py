import numpy as np
import pytest
import torch

from scaling_mlps.lion import Lion


def _program1(weight, gradient, momentum, lr, wd, beta1=0.9, beta2=0.99):
    "Chen et al. (2023) Program 1, in NumPy (float64)."
    update = np.sign(beta1 * momentum + (1 - beta1) * gradient) + weight * wd
    return weight - lr * update, beta2 * momentum + (1 - beta2) * gradient


def test_matches_numpy_program1_with_two_groups():
    rng = np.random.default_rng(1)
    w = [rng.normal(size=(4, 3)), rng.normal(size=7)]
    params = [torch.nn.Parameter(torch.tensor(x, dtype=torch.float32)) for x in w]
    settings = [(1e-2, 0.1), (3e-2, 0.5)]
    opt = Lion([{"params": [params[0]]}, {"params": [params[1]], "lr": 3e-2, "weight_decay": 0.5}],
               lr=1e-2, weight_decay=0.1)
    m = [np.zeros_like(x) for x in w]
    for _ in range(40):
        grads = [rng.normal(size=x.shape).astype(np.float32) for x in w]
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        opt.step()
        for i, (lr, wd) in enumerate(settings):
            w[i], m[i] = _program1(w[i], grads[i].astype(np.float64), m[i], lr, wd)
            # one differing sign moves a weight by 2*lr >= 0.02; fp32 rounding stays far below 1e-5
            np.testing.assert_allclose(params[i].detach().numpy(), w[i], rtol=0, atol=1e-5)
            np.testing.assert_allclose(opt.state[params[i]]["exp_avg"].numpy(), m[i], rtol=0, atol=1e-6)


def _train(opt_class, steps=25):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.GELU(), torch.nn.Linear(12, 4))
    opt = opt_class([{"params": net[0].parameters(), "weight_decay": 0.3},
                     {"params": net[2].parameters(), "lr": 2e-3, "betas": (0.8, 0.95)}], lr=5e-4, weight_decay=0.01)
    x, y = torch.randn(32, 6), torch.randint(0, 4, (32,))
    trace = []
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        trace.append([p.detach().clone() for p in net.parameters()])
    return trace, opt


def test_matches_lion_pytorch_step_by_step():
    lion_pytorch = pytest.importorskip("lion_pytorch")
    ours, opt_ours = _train(Lion)
    theirs, opt_theirs = _train(lion_pytorch.Lion)
    for step_ours, step_theirs in zip(ours, theirs):
        for p, q in zip(step_ours, step_theirs):
            torch.testing.assert_close(p, q, rtol=0, atol=1e-7)
    # same state layout, so optimizer checkpoints can be exchanged
    opt_theirs.load_state_dict(opt_ours.state_dict())


def test_every_coordinate_moves_by_lr():
    p = torch.nn.Parameter(torch.randn(500))
    opt = Lion([p], lr=1e-3)
    for scale in (1.0, 1e-8, 1e8):
        before = p.detach().clone()
        p.grad = scale * torch.randn(500)
        opt.step()
        torch.testing.assert_close((p.detach() - before).abs(), torch.full((500,), 1e-3), rtol=0, atol=1e-6)


def test_skips_params_without_grad_and_validates():
    a, b = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(3))
    a.grad = torch.ones(3)
    Lion([a, b], lr=0.1).step()
    assert torch.equal(b.detach(), torch.ones(3)) and torch.allclose(a.detach(), torch.full((3,), 0.9))
    with pytest.raises(ValueError, match="betas"):
        Lion([a], betas=(1.0, 0.99))
    with pytest.raises(ValueError, match="weight_decay=-1"):
        Lion([a], weight_decay=-1)


def _two_group_trace(foreach, steps=15, device="cpu", dtypes=(torch.float32, torch.float32)):
    "Weights and momenta after each step of a run with two groups (weight decay in one), one tensor in `dtypes[1]`."
    torch.manual_seed(0)
    a, b = torch.nn.Linear(5, 9), torch.nn.Linear(9, 3)
    a.to(device, dtypes[0]); b.to(device, dtypes[1])
    opt = Lion([{"params": a.parameters(), "weight_decay": 0.4}, {"params": b.parameters(), "lr": 3e-3}],
               lr=1e-3, weight_decay=0.05, foreach=foreach)
    x, y = torch.randn(32, 5, device=device, dtype=dtypes[0]), torch.randint(0, 3, (32,), device=device)
    trace = []
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(b(a(x).to(dtypes[1])).float(), y).backward()
        opt.step()
        trace.append([t.clone() for m in (a, b) for p in m.parameters() for t in (p.detach(), opt.state[p]["exp_avg"])])
    return trace, opt


@pytest.mark.parametrize("dtypes", [(torch.float32, torch.float32), (torch.float64, torch.float32)])
def test_foreach_equals_per_parameter_step(dtypes):
    "All tensors at once (grouped by dtype where they differ) gives bit-identical weights and momenta on a CPU."
    together, opt = _two_group_trace(True, dtypes=dtypes)
    one_by_one, _ = _two_group_trace(False, dtypes=dtypes)
    assert opt.param_groups[0]["foreach"] and opt.param_groups[1]["weight_decay"] == 0.05
    for s, t in zip(together, one_by_one):
        assert all(torch.equal(u, v) for u, v in zip(s, t))
    # a state dict from before the `foreach` option (no such key) still loads and steps
    state = opt.state_dict()
    for g in state["param_groups"]: del g["foreach"]
    opt.load_state_dict(state); opt.step()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_foreach_equals_per_parameter_step_cuda():
    "On a GPU the multi-tensor kernels may round a multiply-add differently; a flipped sign would differ by 2*lr."
    together, _ = _two_group_trace(True, device="cuda")
    one_by_one, _ = _two_group_trace(False, device="cuda")
    for s, t in zip(together, one_by_one):
        for u, v in zip(s, t): torch.testing.assert_close(u, v, rtol=0, atol=1e-6)
