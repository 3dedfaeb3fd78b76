"""What checking the dataset cache's CRC32 costs on every load.

`load_dataset` memory-maps `<data_dir>/cache/<key>.npy`; with verification on (the default) it first reads the
whole file once and compares its CRC32 (zlib) with the one written next to it. This prints, per dataset, the
median over repeats of:

  load, no verify - `load_dataset(..., verify=False)`: the json, the size and shape checks, the memory map
  load, verify    - `load_dataset(...)` as users call it
  read only       - reading the .npy into a reused buffer, no checksum: the I/O part of verifying
  crc32           - zlib.crc32 over the file (what `file_crc32` does), in GB/s
  xxh3_64         - the same with xxhash's xxh3_64 (only if `xxhash` is installed; it is not a dependency)

The files are in the page cache (each is read once before timing), so "read only" is memory bandwidth; from a
cold disk, add the file size divided by the disk's read speed. The first load decodes the dataset into the cache.

    python benchmarks/cache_checksum.py --data-dir $SCALING_MLPS_DATA                  # cifar10 and tinyimagenet
    python benchmarks/cache_checksum.py --datasets cifar10 --repeats 9
"""
from __future__ import annotations
import argparse, statistics, time, zlib
from pathlib import Path


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return statistics.median(times)


def read_only(path: Path, chunk: int = 1 << 24) -> None:
    buf = memoryview(bytearray(chunk))
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf): pass


def xxh3_file(path: Path, chunk: int = 1 << 24) -> int:
    import xxhash
    h, buf = xxhash.xxh3_64(), memoryview(bytearray(chunk))
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf): h.update(buf[:n])
    return h.intdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--datasets", nargs="+", default=["cifar10", "tinyimagenet"])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from scaling_mlps.data import load_dataset, file_crc32, _cache_key
    from scaling_mlps.core import get_data_dir
    try:
        import xxhash  # noqa: F401
        has_xxhash = True
    except ImportError:
        has_xxhash = False
    print(f"zlib {zlib.ZLIB_RUNTIME_VERSION}, {args.repeats} repeats, medians, files in the page cache")
    print("| dataset | .npy size | load, no verify | load, verify | read only | crc32 | xxh3_64 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in args.datasets:
        ds = load_dataset(name, "train", data_dir=args.data_dir, progress=True)  # decodes once if needed
        npy = get_data_dir(args.data_dir) / "cache" / f"{_cache_key(name, 'train', ds.resolution, 'squash')}.npy"
        size = npy.stat().st_size
        read_only(npy)  # into the page cache
        plain = median_time(lambda: load_dataset(name, "train", data_dir=args.data_dir, verify=False), args.repeats)
        verified = median_time(lambda: load_dataset(name, "train", data_dir=args.data_dir, verify=True), args.repeats)
        io = median_time(lambda: read_only(npy), args.repeats)
        crc = median_time(lambda: file_crc32(npy), args.repeats)
        xxh = median_time(lambda: xxh3_file(npy), args.repeats) if has_xxhash else None
        gbps = lambda t: f"{t:.2f} s ({size / t / 1e9:.1f} GB/s)"
        print(f"| {name} train | {size / 1e9:.2f} GB | {plain * 1000:.0f} ms | {verified:.2f} s | {gbps(io)} | {gbps(crc)} | "
              f"{gbps(xxh) if xxh else 'not installed'} |")


if __name__ == "__main__":
    main()
