"""``python -m mixsynth``."""

from mixsynth.cli import main

main()
