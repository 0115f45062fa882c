"""Developer scripts, run from the repository's root as modules (not installed with the package):
``python -m scripts.load_and_fault``, ``python -m scripts.screenshot``."""
