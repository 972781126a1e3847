#!/usr/bin/env python
"""Train RewACT with LeRobot's training loop; takes the same flags as `lerobot-train`.

    python scripts/train.py --dataset.repo_id=local/marker --dataset.root=data/marker \
        --policy.type=rewact --output_dir=outputs/train/marker --steps=1000

Multi-GPU: `accelerate launch --num_processes=2 scripts/train.py ...`.
"""

from lerobot_policy_rewact.tools.train import main

if __name__ == "__main__":
    main()
