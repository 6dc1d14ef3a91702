"""Network definitions shared by the trainer and the app."""
