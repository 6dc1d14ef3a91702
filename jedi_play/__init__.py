"""JEDI Play runtime: the Atari environment, world-model definitions, the dream env and the pygame app."""

import os

# One OpenBLAS thread unless the user chose otherwise; this must be set before numpy is imported. The frame
# resize (numpy einsum, so OpenBLAS) runs between torch calls, and OpenBLAS's idle threads spin for a while
# after each call, on the cores torch's threads need. Measured on 2 cores: the app's compare mode stepped
# 14 times a second with OpenBLAS's default threads and 44 times with one. Our numpy work is tiny.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
