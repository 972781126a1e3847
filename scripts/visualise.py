#!/usr/bin/env python
"""Draw a trained RewACT's reward on dataset episodes (MP4 + PNG per episode).

    python scripts/visualise.py --dataset-root data/aloha-transfer-demo --episode-id 35 38 \
        --policy-path outputs/demo/train/checkpoints/last/pretrained_model
"""

import argparse
import logging

from lerobot_policy_rewact.visualise import add_arguments, run

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    run(parser.parse_args())
