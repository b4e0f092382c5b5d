"""Radiomic extraction from images: time per lesion and peak memory, 1 and 2 workers.

Writes N synthetic CT volumes of 128^3 voxels (0.8 x 0.8 x 1.0 mm, int16, a textured liver
background) with one irregular lesion each (25-60 mm across), then runs
`haicpred.radiomics.extraction.extract_features` with resources/radiomics_params.yaml (1 mm
isotropic resampling, bin width 25 HU, original image, all 3D feature classes) in a fresh
process per worker count. Peak memory is the largest summed RSS of that process and its
workers, sampled every 50 ms from /proc.

Usage: python benchmarks/image_extraction.py [--lesions 100] [--workers 1 2]
Prints one JSON line per worker count and writes benchmarks/out/image_extraction.json.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
SHAPE = (128, 128, 128)  # z, y, x
SPACING = (0.8, 0.8, 1.0)  # x, y, z in mm
PARAMS = REPO / "resources" / "radiomics_params.yaml"


def write_cohort(folder: Path, n: int, seed: int = 1) -> list[tuple[str, str, str]]:
    import SimpleITK as sitk
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    z, y, x = np.indices(SHAPE, dtype=np.float32)
    centre = [(s - 1) / 2 for s in SHAPE]
    mm = [(z - centre[0]) * SPACING[2], (y - centre[1]) * SPACING[1],
          (x - centre[2]) * SPACING[0]]
    pairs = []
    for i in range(n):
        background = 60 + 8 * gaussian_filter(rng.standard_normal(SHAPE), 1.0) * 2
        radius = rng.uniform(12.5, 30.0)
        axes = radius * np.array([1.0, rng.uniform(0.7, 1.0), rng.uniform(0.6, 0.9)])
        rho = np.sqrt((mm[2] / axes[0]) ** 2 + (mm[1] / axes[1]) ** 2 + (mm[0] / axes[2]) ** 2)
        wobble = 0.12 * np.sin(3 * np.arctan2(mm[1], mm[2]) + rng.uniform(0, 6.3))
        lesion = rho < 1 + wobble
        texture = gaussian_filter(rng.standard_normal(SHAPE), rng.uniform(0.8, 2.0))
        texture /= texture[lesion].std()
        image = np.where(lesion, 95 + rng.uniform(15, 40) * texture, background)
        paths = []
        for name, values in (("ct", np.round(image).astype(np.int16)),
                             ("mask", lesion.astype(np.uint8))):
            volume = sitk.GetImageFromArray(values)
            volume.SetSpacing(SPACING)
            path = folder / f"P{i:03d}_{name}.nii.gz"
            sitk.WriteImage(volume, str(path), True)
            paths.append(str(path))
        pairs.append((f"P{i:03d}", *paths))
    return pairs


def tree_rss_bytes(pid: int) -> int:
    """Summed resident memory of a process and its descendants (Linux /proc)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/statm") as handle:
                total += int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    todo += [int(child) for child in handle.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def run(pairs_file: Path, workers: int) -> dict:
    code = ("import json, sys, time\n"
            "from haicpred.radiomics.extraction import ImagePair, extract_features\n"
            "pairs = [ImagePair(*p) for p in json.load(open(sys.argv[1]))]\n"
            "start = time.perf_counter()\n"
            "frame = extract_features(pairs, sys.argv[2], workers=int(sys.argv[3]))\n"
            "print(json.dumps({'seconds': time.perf_counter() - start, 'lesions': len(frame),"
            " 'mean_voxels': float(frame['qc_lesion_voxels'].mean()),"
            " 'features': int(sum(c.startswith('original_') for c in frame.columns))}))\n")
    process = subprocess.Popen([sys.executable, "-c", code, str(pairs_file), str(PARAMS),
                                str(workers)], stdout=subprocess.PIPE, text=True)
    peak, done = 0, threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_bytes(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    output, _ = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"extraction failed with {workers} worker(s)")
    result = json.loads(output.strip().splitlines()[-1])
    return {"benchmark": "image_extraction", "workers": workers, "lesions": result["lesions"],
            "voxels_per_image": int(np.prod(SHAPE)),
            "mean_lesion_voxels": round(result["mean_voxels"]),
            "features_per_lesion": result["features"],
            "seconds": round(result["seconds"], 1),
            "seconds_per_lesion": round(result["seconds"] / result["lesions"], 3),
            "peak_rss_mib": round(peak / 2 ** 20)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lesions", type=int, default=100)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        pairs = write_cohort(Path(folder), args.lesions)
        pairs_file = Path(folder) / "pairs.json"
        pairs_file.write_text(json.dumps(pairs))
        for workers in args.workers:
            results.append(run(pairs_file, workers))
            print(json.dumps(results[-1]), flush=True)
    (OUT / "image_extraction.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
