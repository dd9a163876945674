"""ganlab: a reproducible GAN pipeline for face generation and latent-space interpolation."""

__version__ = "0.1.0"
