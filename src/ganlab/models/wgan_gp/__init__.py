"""The wgan_gp model: params.py (its params, torch-free) and variant.py (its networks and losses).

Nothing is imported here: params.load imports params.py without torch."""
