"""Power planning: `crma-eval plan` (items, repeats and seeds needed to detect a drop) and
`crma-eval gate --calibrate` (margins from run-to-run noise). Statistics: crma_eval.stats.power.
"""
