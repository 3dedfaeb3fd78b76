import pytest
import torch

from scaling_mlps.augment import normalize
from scaling_mlps.data import load_dataset
from scaling_mlps.loader import DeviceLoader, mix_seed

STATS = dict(mean=(0.4, 0.5, 0.6), std=(0.2, 0.25, 0.3))


def numbered(n=257, size=8):
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g), torch.arange(n)


@pytest.mark.parametrize("augment", [False, True])
def test_train_covers_each_example_at_most_once_per_epoch(augment):
    images, labels = numbered()
    loader = DeviceLoader(images, labels, 32, train=True, augment=augment, device="cpu", **STATS)
    assert len(loader) == 8
    orders = []
    for epoch in range(3):
        ys = [y for _, y in loader]
        assert all(len(y) == 32 for y in ys)  # the last partial batch is dropped
        seen = torch.cat(ys)
        assert len(seen) == 256 and len(seen.unique()) == 256
        orders.append(seen)
    assert not torch.equal(orders[0], orders[1]) and not torch.equal(orders[1], orders[2])
    loader.set_epoch(1)
    assert torch.equal(torch.cat([y for _, y in loader]), orders[1])


def test_eval_covers_every_example_once_in_order():
    images, labels = numbered()
    loader = DeviceLoader(images, labels, 32, train=False, device="cpu", **STATS)
    batches = list(loader)
    assert len(loader) == len(batches) == 9 and len(batches[-1][1]) == 1
    assert torch.equal(torch.cat([y for _, y in batches]), labels)
    x = torch.cat([x for x, _ in batches])
    assert torch.allclose(x, normalize(images, STATS["mean"], STATS["std"]), atol=1e-5)


@pytest.mark.parametrize("stop", [(0, 0), (0, 5), (1, 3), (1, 7)])
def test_resume_gives_identical_remaining_batches(stop):
    images, labels = numbered()
    kw = dict(train=True, augment=True, resolution=12, device="cpu", seed=7, **STATS)
    reference = DeviceLoader(images, labels, 32, **kw)
    full = [(x.clone(), y.clone()) for _ in range(3) for x, y in reference]
    first = DeviceLoader(images, labels, 32, **kw)
    epoch, step = stop
    for _ in range(epoch): list(first)
    it = iter(first)
    for _ in range(step): next(it)
    state = first.state_dict()
    assert state == {"epoch": epoch, "step": step}
    resumed = DeviceLoader(images, labels, 32, **kw)
    resumed.load_state_dict(state)
    rest = [(x.clone(), y.clone()) for _ in range(3 - epoch) for x, y in resumed]
    expected = full[epoch * 8 + step:]
    assert len(rest) == len(expected)
    for (xa, ya), (xb, yb) in zip(expected, rest):
        assert torch.equal(ya, yb) and torch.equal(xa, xb)


def test_ranks_shard_one_permutation():
    images, labels = numbered(n=300)
    loaders = [DeviceLoader(images, labels, 16, train=True, device="cpu", rank=r, world_size=4, **STATS) for r in range(4)]
    assert [len(l) for l in loaders] == [4, 4, 4, 4]  # 300 // 4 = 75 examples per rank, 4 full batches
    seen = [torch.cat([y for _, y in l]) for l in loaders]
    assert len(torch.cat(seen).unique()) == 4 * 64
    # rank r takes every 4th element of the same permutation
    perm = torch.randperm(300, generator=torch.Generator().manual_seed(mix_seed(0, 0)))
    assert torch.equal(seen[2], perm[2::4][:64])


def test_dtype_and_device_options():
    images, labels = numbered(n=20)
    x, y = next(iter(DeviceLoader(images, labels, 8, train=True, augment=True, resolution=16, device="cpu",
                                  dtype=torch.bfloat16, **STATS)))
    assert x.dtype == torch.bfloat16 and x.shape == (8, 3, 16, 16) and y.dtype == torch.int64
    loader = DeviceLoader(images, labels, 8, train=True, device="cpu", **STATS)
    with pytest.raises(ValueError, match="step=9"):
        loader.load_state_dict({"epoch": 0, "step": 9})
    with pytest.raises(ValueError, match="20 images but 19 labels"):
        DeviceLoader(images, labels[:19], 8, train=True, **STATS)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("on_device", [True, False])
def test_cuda_placements_agree(on_device):
    images, labels = numbered()
    kw = dict(train=True, augment=True, resolution=16, seed=1, **STATS)
    cuda = DeviceLoader(images, labels, 32, device="cuda", on_device=on_device, **kw)
    assert cuda.placement == ("device" if on_device else "pinned")
    ys = [y for _, y in cuda]
    x, _ = next(iter(cuda))
    assert x.dtype == torch.bfloat16 and x.device.type == "cuda"
    cpu = DeviceLoader(images, labels, 32, device="cpu", **kw)
    assert torch.equal(torch.cat(ys).cpu(), torch.cat([y for _, y in cpu]))


def test_real_cifar10_epoch(real_data_dir):
    ds = load_dataset("cifar10", "train", data_dir=real_data_dir, progress=False)
    index = torch.arange(len(ds))  # label = example index, to see which examples are visited
    loader = DeviceLoader(ds.images, index, 1024, train=True, augment=True, mean=ds.mean, std=ds.std, device="cpu")
    seen = []
    for x, y in loader:
        seen.append(y)
    assert len(loader) == 48 and x.shape == (1024, 3, 32, 32)
    assert len(torch.cat(seen).unique()) == 48 * 1024  # no example twice
    assert abs(x.mean().item()) < 0.3 and 0.7 < x.std().item() < 1.3  # roughly standardized


def test_compiled_augmentation_equals_eager_and_falls_back(monkeypatch):
    import scaling_mlps.loader as loader_module
    images, labels = numbered(n=64)
    fast = DeviceLoader(images, labels, 16, train=True, augment=True, device="cpu", **STATS)
    fast_batches = [x for x, _ in fast]
    assert fast.compile_augment  # still on: the compiled path ran (a failure would have switched it off)
    eager = [x for x, _ in DeviceLoader(images, labels, 16, train=True, augment=True, device="cpu", compile_augment=False, **STATS)]
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(fast_batches, eager))
    assert not torch.equal(fast_batches[0], eager[1])

    def no_compiler(*args, **kwargs): raise RuntimeError("no C++ compiler found")
    monkeypatch.setattr(loader_module, "compiled", lambda fn: no_compiler)
    broken = DeviceLoader(images, labels, 16, train=True, augment=True, device="cpu", **STATS)
    with pytest.warns(UserWarning, match="no C\\+\\+ compiler found"):
        fallback = [x for x, _ in broken]
    assert not broken.compile_augment  # warned once, then eager for good
    assert all(torch.equal(a, b) for a, b in zip(fallback, eager))
