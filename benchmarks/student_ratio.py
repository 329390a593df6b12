"""Network-only speed of the two students side by side: uva-dva-32's best-batch throughput over
uva-dva-64's, measured in one process with the candidates interleaved and repeated (separate
`uva bench` runs minutes apart differ by more than the gap being measured on a noisy machine).

    python benchmarks/student_ratio.py [--rounds 5] [--seconds 1.5] [--threads 0] [MODEL ...]
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["uva-dva-64", "uva-dva-32"],
                        help="names or .pt files; the first is the reference")
    parser.add_argument("--batch", type=int, action="append", help="batch sizes [64 256 1024]")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--threads", type=int, default=0, help="network threads (0: every core)")
    parser.add_argument("--backend", default="torch", choices=["torch", "onnx"])
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    from uva_cli.bench import count_macs, network_fps
    from uva_cli.models.registry import load_model
    from uva_cli.engine import load_predictor

    threads = args.threads or os.cpu_count() or 1
    predictors = {m: load_predictor(m, "cpu", backend=args.backend, threads=threads) for m in args.models}
    batches = args.batch or [64, 256, 1024]
    samples = {m: {b: [] for b in batches} for m in args.models}
    for _ in range(args.rounds):
        for m, predictor in predictors.items():
            for b in batches:
                samples[m][b].append(network_fps(predictor, b, args.seconds))
    reference = args.models[0]
    best = {m: max(float(np.median(samples[m][b])) for b in batches) for m in args.models}
    # the same ratio within each round (both models measured minutes apart at most), whose median
    # a drift of the machine's speed over the run moves less
    per_round = {m: [max(samples[m][b][r] for b in batches) / max(samples[reference][b][r] for b in batches)
                     for r in range(args.rounds)] for m in args.models}
    print(f"network-only fps, {args.backend}, {threads} threads, median of {args.rounds} interleaved rounds")
    print("model".ljust(16) + "MACs/frame".rjust(12) + "".join(f"batch {b}".rjust(12) for b in batches)
          + "best".rjust(10) + f"vs {reference}".rjust(18) + "per round".rjust(12))
    rows = {}
    for m, predictor in predictors.items():
        macs = count_macs(load_model(m), predictor.input_size)  # an ONNX predictor holds no PyTorch model
        medians = {b: float(np.median(samples[m][b])) for b in batches}
        rows[m] = {"macs_per_frame": macs, "fps": medians, "samples": samples[m], "best_fps": best[m],
                   "ratio": best[m] / best[reference], "ratio_per_round": per_round[m],
                   "ratio_per_round_median": float(np.median(per_round[m]))}
        print(m.ljust(16) + f"{macs / 1e6:.2f} M".rjust(12) + "".join(f"{medians[b]:,.0f}".rjust(12) for b in batches)
              + f"{best[m]:,.0f}".rjust(10) + f"{best[m] / best[reference]:.2f}x".rjust(18)
              + f"{np.median(per_round[m]):.2f}x".rjust(12))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"backend": args.backend, "threads": threads, "rounds": args.rounds, "models": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
