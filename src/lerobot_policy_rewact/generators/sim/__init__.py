"""Simulated ALOHA cube transfer: a scripted expert, failures on purpose, and ground truth.

Needs the `sim` extra (`pip install -e '.[sim]'`: gym-aloha, MuJoCo, dm_control).
"""
