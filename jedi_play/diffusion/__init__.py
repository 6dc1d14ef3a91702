"""The EDM core shared by both world models (Karras et al. 2022): preconditioning, loss, schedule, samplers."""

from jedi_play.diffusion.edm import Denoiser, EDMConfig, Preconditioning, precondition
from jedi_play.diffusion.sampling import karras_sigmas, sample_euler, sample_heun

__all__ = ["Denoiser", "EDMConfig", "Preconditioning", "karras_sigmas", "precondition", "sample_euler", "sample_heun"]
