"""Where the PyTorch originals are: the folder holding diffusers_ref.py (diffusers 0.27.2's model code) and taesd.py.

$AVATAR_TRAIN_REFERENCE names it; else a reference/ folder in a shared/ folder beside the checkout (or beside the
folder holding it) is used. The fixture scripts import the originals from there; the committed fixtures are what
the tests read, so nothing here is needed to run the tests.
"""
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))


def reference_dir():
    env = os.environ.get("AVATAR_TRAIN_REFERENCE")
    candidates = [env] if env else [os.path.join(ROOT, "..", "shared", "reference"),
                                    os.path.join(ROOT, "..", "..", "shared", "reference")]
    for c in candidates:
        if os.path.isfile(os.path.join(c, "diffusers_ref.py")):
            return os.path.abspath(c)
    raise SystemExit("the PyTorch originals (diffusers_ref.py, taesd.py) were not found in " + " or ".join(candidates)
                     + "; set AVATAR_TRAIN_REFERENCE to their folder")


def use_reference():
    """Puts the originals' folder on sys.path and returns it."""
    d = reference_dir()
    if d not in sys.path:
        sys.path.insert(0, d)
    return d
