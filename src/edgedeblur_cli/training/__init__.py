"""Training and evaluation: the loop, data, stages, checkpoints, logs, torchrun, the prior's trainer."""
