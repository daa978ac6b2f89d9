"""The user guides (Markdown), installed with the package as `crma_eval.docs`.

`crma-eval docs` lists them and `crma-eval docs NAME` prints one, so an installed package carries
the guides the README links.
"""
