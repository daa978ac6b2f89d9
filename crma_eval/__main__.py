"""`python -m crma_eval` runs the command line."""

from crma_eval.cli import main

main()
