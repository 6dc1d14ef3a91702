"""The model folder format (a local folder and a Hub repo look the same) and loading it strictly."""

from jedi_play.hub.model_folder import LoadedModel, load_model_folder, save_model_folder

__all__ = ["LoadedModel", "load_model_folder", "save_model_folder"]
