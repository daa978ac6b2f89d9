"""The embedded demo: synthetic domains, a tiny base LM and sequentially trained CRMA checkpoints.

`build_demo` lives in `crma_eval.demo.build` (imports torch); this package itself does not.
"""
