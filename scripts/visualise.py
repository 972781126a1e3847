#!/usr/bin/env python
"""Draw a trained RewACT's reward on dataset episodes (MP4 + PNG per episode).

Takes the original RewACT's flags, as its README wrote them:

    python scripts/visualise.py --dataset-repo-id "user/dataset" --episode-id 24 \
        --policy-path "outputs/train/run/checkpoints/last/pretrained_model"

(plus --dataset-root DIR for a local folder and --output-dir DIR), or the flags of
`rewact visualise` (--dataset.root=DIR --dataset.episodes=[24] --policy.path=P).
"""

import argparse
import json
import sys

from lerobot_policy_rewact.tools.cli import main

LEGACY = ("--dataset-repo-id", "--dataset-root", "--episode-id", "--policy-path", "--output-dir")


def translate(argv: list[str]) -> list[str]:
    """The original flags (`--episode-id 24 25`, ...) as `rewact visualise` flags."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset-repo-id", default=None)
    parser.add_argument("--dataset-root", default=None)
    parser.add_argument("--episode-id", type=int, nargs="+", required=True)
    parser.add_argument("--policy-path", required=True)
    parser.add_argument("--output-dir", default=None)
    args = parser.parse_args(argv)
    out = [
        f"--dataset.episodes={json.dumps(args.episode_id).replace(' ', '')}",
        f"--policy.path={args.policy_path}",
    ]
    out += [f"--dataset.repo_id={args.dataset_repo_id}"] if args.dataset_repo_id else []
    out += [f"--dataset.root={args.dataset_root}"] if args.dataset_root else []
    out += [f"--output_dir={args.output_dir}"] if args.output_dir else []
    return out


if __name__ == "__main__":
    argv = sys.argv[1:]
    if any(a.split("=", 1)[0] in LEGACY for a in argv):
        argv = translate(argv)
    main(["visualise", *argv])
