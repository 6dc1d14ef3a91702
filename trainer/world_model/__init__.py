"""World-model training on collected episodes, checkpoints and export to the model folder format."""
